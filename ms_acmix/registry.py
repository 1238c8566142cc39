from acmix_common.registry import Registry

registry = Registry("ms_acmix")
