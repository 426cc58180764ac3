"""The SSAP network: ResNet backbone, U-shape decoder, semantic + affinity heads.

>>> net = build_model(cfg)            # SSAPNet, initialised (pretrained or random)
>>> outputs = net(images)             # semantic logits per level, then affinity logits
>>> probs = net.activate(outputs)     # a Pyramid: probs.semantic_at(4), probs.affinity_at(16)

See docs/MODEL.md.
"""
from .backbone import PretrainedWeightsError, ResNetBackbone, model_store_path
from .ssap_net import SSAPNet, activate, build_model, norm_layer_from_config, split_outputs

__all__ = ["PretrainedWeightsError", "ResNetBackbone", "SSAPNet", "activate", "build_model",
           "model_store_path", "norm_layer_from_config", "split_outputs"]
