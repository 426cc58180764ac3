#!/usr/bin/env python
"""Start a multi-node (or local multi-process) training job with mxnet's dmlc_tracker.

Local test (2 workers + 1 server on this machine):

    python scripts/launch_dist.py -n 2 -s 1 --launcher local -- \
        python scripts/train.py --cfg configs/synthcity_r18.yaml \
        --opts TRAIN.KVSTORE dist_sync TRAIN.OUTPUT_DIR output/dist_test

Real nodes over ssh (hosts.txt: one host per line; every host needs the same
checkout, venv and dataset path, and OUTPUT_DIR on a shared filesystem for
--resume):

    python scripts/launch_dist.py -n 4 -s 4 --launcher ssh -H hosts.txt \
        --env OMP_NUM_THREADS:8 -- \
        /path/to/ssap-gluon/.venv/bin/python /path/to/ssap-gluon/scripts/train.py \
        --cfg configs/r50.yaml --opts TRAIN.KVSTORE dist_device_sync

Every process (workers, servers, scheduler) runs the same command; servers and
the scheduler turn into mxnet parameter servers inside ``import mxnet``.
See docs/TRAINING.md "Multi-node".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    from ssap_gluon.training.distributed import build_arg_parser, launch

    args = build_arg_parser().parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        build_arg_parser().error("no command given (put it after --)")
    launch(args.num_workers, command, num_servers=args.num_servers, launcher=args.launcher,
           hostfile=args.hostfile, sync_dst_dir=args.sync_dst_dir, env=args.env,
           host_ip=args.host_ip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
