from acmix_common.registry import Registry

registry = Registry("torch_ref")
