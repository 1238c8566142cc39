"""timm 0.3.2's RandAugment, written from its documented semantics: the 'rand' config string,
the operation lists (plain and 'Increasing'), the level-to-argument functions, AugmentOp (applied
with probability 0.5 at a Gaussian-noised magnitude clipped to [0, 10]) and RandAugment (ops
chosen with np.random.choice, with replacement). Random draws come from the generators passed in
(timm: the ``random`` module and ``np.random``)."""
import re

from PIL import Image, ImageEnhance, ImageOps

_MAX_LEVEL = 10.0


def _randomly_negate(v, rng):
    return -v if rng.random() > 0.5 else v


def _rotate_arg(level, hp, rng):
    return (_randomly_negate((level / _MAX_LEVEL) * 30.0, rng),)


def _enhance_arg(level, hp, rng):
    return ((level / _MAX_LEVEL) * 1.8 + 0.1,)


def _enhance_increasing_arg(level, hp, rng):
    return (1.0 + _randomly_negate((level / _MAX_LEVEL) * 0.9, rng),)


def _shear_arg(level, hp, rng):
    return (_randomly_negate((level / _MAX_LEVEL) * 0.3, rng),)


def _translate_rel_arg(level, hp, rng):
    return (_randomly_negate((level / _MAX_LEVEL) * hp.get("translate_pct", 0.45), rng),)


def _posterize_arg(level, hp, rng):
    return (int((level / _MAX_LEVEL) * 4),)


def _posterize_increasing_arg(level, hp, rng):
    return (4 - _posterize_arg(level, hp, rng)[0],)


def _solarize_arg(level, hp, rng):
    return (int((level / _MAX_LEVEL) * 256),)


def _solarize_increasing_arg(level, hp, rng):
    return (256 - _solarize_arg(level, hp, rng)[0],)


def _solarize_add_arg(level, hp, rng):
    return (int((level / _MAX_LEVEL) * 110),)


def _affine(img, matrix, resample, fillcolor):
    return img.transform(img.size, Image.AFFINE, matrix, resample=resample, fillcolor=fillcolor)


def _solarize_add(img, add, **_):
    lut = [min(255, i + add) if i < 128 else i for i in range(256)]
    if img.mode == "RGB":
        lut = lut * 3
    return img.point(lut) if img.mode in ("L", "RGB") else img


def _posterize(img, bits, **_):
    """ImageOps.posterize as timm's Pillow (8.x) ran it: a LUT keeping the top ``bits`` bits.
    PosterizeIncreasing reaches bits=0 at magnitude 10: black (the Pillow here refuses 0)."""
    if bits >= 8:
        return img
    lut = [i & ~(2 ** (8 - bits) - 1) for i in range(256)]
    return img.point(lut * len(img.getbands()))


_GEOMETRIC = {
    "Rotate": lambda img, deg, resample, fillcolor: img.rotate(deg, resample=resample,
                                                                fillcolor=fillcolor),
    "ShearX": lambda img, f, resample, fillcolor: _affine(img, (1, f, 0, 0, 1, 0), resample,
                                                          fillcolor),
    "ShearY": lambda img, f, resample, fillcolor: _affine(img, (1, 0, 0, f, 1, 0), resample,
                                                          fillcolor),
    "TranslateXRel": lambda img, pct, resample, fillcolor: _affine(
        img, (1, 0, pct * img.size[0], 0, 1, 0), resample, fillcolor),
    "TranslateYRel": lambda img, pct, resample, fillcolor: _affine(
        img, (1, 0, 0, 0, 1, pct * img.size[1]), resample, fillcolor),
}

NAME_TO_OP = {
    "AutoContrast": lambda img, **_: ImageOps.autocontrast(img),
    "Equalize": lambda img, **_: ImageOps.equalize(img),
    "Invert": lambda img, **_: ImageOps.invert(img),
    "Posterize": _posterize, "PosterizeIncreasing": _posterize,
    "Solarize": lambda img, t, **_: ImageOps.solarize(img, t),
    "SolarizeIncreasing": lambda img, t, **_: ImageOps.solarize(img, t),
    "SolarizeAdd": _solarize_add,
    **{name: (lambda enh: lambda img, f, **_: enh(img).enhance(f))(getattr(ImageEnhance, base))
       for base in ("Color", "Contrast", "Brightness", "Sharpness")
       for name in (base, base + "Increasing")},
    **_GEOMETRIC,
}

LEVEL_TO_ARG = {
    "AutoContrast": None, "Equalize": None, "Invert": None, "Rotate": _rotate_arg,
    "Posterize": _posterize_arg, "PosterizeIncreasing": _posterize_increasing_arg,
    "Solarize": _solarize_arg, "SolarizeIncreasing": _solarize_increasing_arg,
    "SolarizeAdd": _solarize_add_arg,
    "Color": _enhance_arg, "ColorIncreasing": _enhance_increasing_arg,
    "Contrast": _enhance_arg, "ContrastIncreasing": _enhance_increasing_arg,
    "Brightness": _enhance_arg, "BrightnessIncreasing": _enhance_increasing_arg,
    "Sharpness": _enhance_arg, "SharpnessIncreasing": _enhance_increasing_arg,
    "ShearX": _shear_arg, "ShearY": _shear_arg,
    "TranslateXRel": _translate_rel_arg, "TranslateYRel": _translate_rel_arg,
}

RAND_TRANSFORMS = ["AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize",
                   "SolarizeAdd", "Color", "Contrast", "Brightness", "Sharpness", "ShearX",
                   "ShearY", "TranslateXRel", "TranslateYRel"]
RAND_INCREASING_TRANSFORMS = ["AutoContrast", "Equalize", "Invert", "Rotate",
                              "PosterizeIncreasing", "SolarizeIncreasing", "SolarizeAdd",
                              "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
                              "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel",
                              "TranslateYRel"]


class AugmentOp:
    def __init__(self, name, prob=0.5, magnitude=10, hparams=None):
        hparams = hparams or {}
        self.name = name
        self.aug_fn, self.level_fn = NAME_TO_OP[name], LEVEL_TO_ARG[name]
        self.prob, self.magnitude, self.hparams = prob, magnitude, dict(hparams)
        self.magnitude_std = self.hparams.get("magnitude_std", 0)
        self.kwargs = dict(fillcolor=hparams.get("img_mean", (128, 128, 128)),
                           resample=hparams.get("interpolation", Image.BILINEAR))

    def __call__(self, img, rng):
        if self.prob < 1.0 and rng.random() > self.prob:
            return img
        magnitude = self.magnitude
        if self.magnitude_std and self.magnitude_std > 0:
            magnitude = rng.gauss(magnitude, self.magnitude_std)
        magnitude = min(_MAX_LEVEL, max(0, magnitude))
        args = self.level_fn(magnitude, self.hparams, rng) if self.level_fn else ()
        if self.name in _GEOMETRIC:
            return self.aug_fn(img, *args, **self.kwargs)
        return self.aug_fn(img, *args)


class RandAugment:
    def __init__(self, ops, num_layers=2):
        self.ops, self.num_layers = ops, num_layers

    def __call__(self, img, rng, np_rng):
        for op in np_rng.choice(self.ops, self.num_layers, replace=True):
            img = op(img, rng)
        return img


def rand_augment_transform(config_str, hparams):
    """timm's parser: 'rand' then m<int>, n<int>, mstd<float>, inc<any> sections."""
    magnitude, num_layers, transforms = _MAX_LEVEL, 2, RAND_TRANSFORMS
    hparams = dict(hparams)
    sections = config_str.split("-")
    assert sections[0] == "rand"
    for c in sections[1:]:
        cs = re.split(r"(\d.*)", c)
        if len(cs) < 2:
            continue
        key, val = cs[:2]
        if key == "mstd":
            hparams.setdefault("magnitude_std", float(val))
        elif key == "inc":
            if bool(val):  # timm: any value, even '0', selects the increasing list
                transforms = RAND_INCREASING_TRANSFORMS
        elif key == "m":
            magnitude = int(val)
        elif key == "n":
            num_layers = int(val)
        else:
            raise AssertionError(f"unknown RandAugment config section {c!r}")
    ops = [AugmentOp(name, prob=0.5, magnitude=magnitude, hparams=hparams) for name in transforms]
    return RandAugment(ops, num_layers)


def timm_aa_hparams(img_size, mean, interpolation):
    """transforms_imagenet_train's hparams for RandAugment."""
    return dict(translate_const=int(img_size * 0.45),
                img_mean=tuple(min(255, round(255 * x)) for x in mean),
                interpolation={"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[interpolation])
