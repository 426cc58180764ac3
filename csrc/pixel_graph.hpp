// Edge accumulator of the cascade's graph construction (csrc/pixel_graph.pyx).
//
// Every window pair between two different nodes adds its cost to the edge
// {a, b}. Pixel pairs inside the band between two proposals map to the same
// edge thousands of times, pairs between lone pixels once: an open-addressing
// hash table (linear probing, power-of-two capacity, load <= 1/2) finds the
// edge in a probe or two, far faster than std::unordered_map here
// (scripts/bench_cascade.py). Edges are kept in first-seen order, so the output
// -- and every cost sum -- depends only on the order of the pairs, which is fixed.
#pragma once
#include <cstdint>
#include <vector>

namespace ssap_pg {

class EdgeAccumulator {
 public:
  explicit EdgeAccumulator(int64_t num_nodes, int64_t expected = 1 << 12)
      : num_nodes_(num_nodes) {
    int64_t capacity = 16;
    while (capacity < 2 * expected) capacity <<= 1;
    table_.assign(capacity, -1);
    mask_ = capacity - 1;
  }

  void add(int64_t a, int64_t b, double cost) {
    const int64_t lo = a < b ? a : b, hi = a < b ? b : a;
    const int64_t key = lo * num_nodes_ + hi;
    int64_t slot = hash(key) & mask_;
    while (true) {
      const int64_t index = table_[slot];
      if (index < 0) {
        table_[slot] = static_cast<int64_t>(keys_.size());
        keys_.push_back(key);
        costs_.push_back(cost);
        if (2 * static_cast<int64_t>(keys_.size()) > mask_ + 1) grow();
        return;
      }
      if (keys_[index] == key) {
        costs_[index] += cost;
        return;
      }
      slot = (slot + 1) & mask_;
    }
  }

  int64_t size() const { return static_cast<int64_t>(keys_.size()); }
  int64_t low(int64_t i) const { return keys_[i] / num_nodes_; }
  int64_t high(int64_t i) const { return keys_[i] % num_nodes_; }
  double cost(int64_t i) const { return costs_[i]; }

 private:
  static uint64_t hash(int64_t key) {
    return (static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ULL) >> 17;
  }

  void grow() {
    const int64_t capacity = 2 * (mask_ + 1);
    table_.assign(capacity, -1);
    mask_ = capacity - 1;
    for (int64_t i = 0; i < static_cast<int64_t>(keys_.size()); ++i) {
      int64_t slot = hash(keys_[i]) & mask_;
      while (table_[slot] >= 0) slot = (slot + 1) & mask_;
      table_[slot] = i;
    }
  }

  int64_t num_nodes_;
  int64_t mask_;
  std::vector<int64_t> table_;
  std::vector<int64_t> keys_;
  std::vector<double> costs_;
};

}  // namespace ssap_pg
