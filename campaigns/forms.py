"""HTML forms of the campaign administration pages (field parsing only; services validate)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from explanations.files import size_text
from explanations.models import Campaign, ModelSpec
from workers.inv.types import CLUSTER_MODES, PARAM_LIMITS, WEIGHT_METHODS

from .archives import ArchiveLimits

MAX_CLASS_CHECKBOXES = 100


class ModelUploadForm(forms.Form):
    KINDS = [
        (ModelSpec.Kind.TORCHSCRIPT, "TorchScript file (.pt)"),
        (ModelSpec.Kind.STATE_DICT, "State dict for a named architecture"),
        (ModelSpec.Kind.TORCHVISION, "torchvision model with its pretrained weights"),
        (ModelSpec.Kind.BUILTIN, "Built-in model"),
    ]
    name = forms.CharField(max_length=100, help_text="Letters, digits and dashes.")
    kind = forms.ChoiceField(choices=KINDS)
    architecture = forms.CharField(
        max_length=200,
        required=False,
        help_text="For a state dict: torchvision:NAME or timm:NAME, e.g. torchvision:vgg16.",
    )
    weights = forms.FileField(required=False, help_text="TorchScript or state-dict file.")
    class_names = forms.FileField(
        required=False, help_text="Text file with one class name per line, in output order."
    )

    def __init__(self, *args, torchscript: bool = True, **kwargs) -> None:
        """``torchscript``: whether the user may upload a TorchScript file
        (:func:`core.roles.user_may_upload_torchscript`); without it the choice is not offered
        (the service refuses such an upload anyway)."""
        super().__init__(*args, **kwargs)
        if not torchscript:
            self.fields["kind"].choices = [
                (k, label) for k, label in self.KINDS if k != ModelSpec.Kind.TORCHSCRIPT
            ]
            self.fields["weights"].help_text = "State-dict file (tensors only)."

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind in (ModelSpec.Kind.TORCHSCRIPT, ModelSpec.Kind.STATE_DICT):
            if not data.get("weights"):
                self.add_error("weights", "Upload the model file.")
            if not data.get("class_names"):
                self.add_error("class_names", "Upload the class names file.")
        if kind == ModelSpec.Kind.STATE_DICT and not data.get("architecture"):
            self.add_error("architecture", "Name the architecture the state dict belongs to.")
        return data


class CampaignCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    aliases = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One class per line: 'class name: alias, alias' (e.g. 'English springer: "
        "spaniel, springer'). Characteristics naming an alias are refused in the game.",
    )
    explained_layers = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    mode = forms.ChoiceField(
        choices=[(m, m) for m in CLUSTER_MODES],
        initial="paper",
        help_text="paper: PCA → t-SNE → Ward (the paper); fast: Ward on PCA coordinates.",
    )
    weights = forms.ChoiceField(
        choices=[(w, w) for w in WEIGHT_METHODS],
        initial="guided",
        help_text="guided (paper) or gradcam per-map weights.",
    )
    seed = forms.IntegerField(
        initial=432, min_value=PARAM_LIMITS["seed"][0], max_value=PARAM_LIMITS["seed"][1]
    )
    keep_factor = forms.FloatField(
        initial=0.896,
        min_value=PARAM_LIMITS["keep_factor"][0],
        max_value=PARAM_LIMITS["keep_factor"][1],
        help_text="Keep a map if its share > keep_factor · 100 / K "
        f"(0 … {PARAM_LIMITS['keep_factor'][1]:g}).",
    )
    game_size = forms.IntegerField(
        initial=512, min_value=64, max_value=2048, help_text="Long side of the game image (px)."
    )
    target_mode = forms.ChoiceField(choices=Campaign.TargetMode.choices, initial="predicted")
    target_rounds = forms.IntegerField(
        initial=5, min_value=1, max_value=1000, help_text="Rounds per item before it retires."
    )

    def __init__(self, *args, model: ModelSpec, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model = model
        self.fields["explained_layers"].choices = [(n, n) for n in model.explainable_layers]
        self.fields["explained_layers"].initial = list(model.default_layers)
        self.many_classes = len(model.class_names) > MAX_CLASS_CHECKBOXES
        if self.many_classes:
            self.fields["classes"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 4}),
                required=False,
                help_text="One class name per line, as the model names it. Empty: all "
                f"{len(model.class_names)} classes.",
            )
        else:
            self.fields["classes"] = forms.MultipleChoiceField(
                widget=forms.CheckboxSelectMultiple,
                choices=[(c, c) for c in model.class_names],
                required=False,
                help_text="The guess choices of the game. None ticked: all classes.",
            )
        self.order_fields(["name", "description", "classes", "aliases", "explained_layers"])

    def clean_classes(self) -> list[str]:
        value = self.cleaned_data.get("classes")
        if not self.many_classes:
            return list(value or [])
        names = [line.strip() for line in (value or "").splitlines() if line.strip()]
        unknown = [n for n in names if n not in self.model.class_names]
        if unknown:
            raise forms.ValidationError("Not among the model's classes: " + ", ".join(unknown[:10]))
        return names

    def engine_params(self) -> dict:
        d = self.cleaned_data
        return {
            "mode": d["mode"],
            "weights": d["weights"],
            "seed": d["seed"],
            "keep_factor": d["keep_factor"],
            "game_size": d["game_size"],
        }


def image_rules() -> str:
    """What an uploaded image must be, as the upload forms say it (the limits are settings)."""
    return (
        f"JPEG, PNG or WebP (other formats are converted to PNG); at most "
        f"{size_text(settings.NETVIZ_MAX_UPLOAD_BYTES)} and "
        f"{settings.NETVIZ_MAX_IMAGE_PIXELS / 1e6:g} megapixels, at least "
        f"{settings.NETVIZ_MIN_IMAGE_SIDE} pixels on each side."
    )


class ImageUploadForm(forms.Form):
    image = forms.FileField()
    true_class = forms.ChoiceField(label="Class")
    compute = forms.BooleanField(required=False, initial=True, label="Start computing right away")

    def __init__(self, *args, classes: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["true_class"].choices = [("", "—")] + [(c, c) for c in classes]
        self.fields["image"].help_text = image_rules()


class ArchiveUploadForm(forms.Form):
    archive = forms.FileField(
        label="Zip of class folders", help_text="One folder per class: 'goldfinch/photo1.jpg'."
    )
    compute = forms.BooleanField(required=False, initial=True, label="Start computing right away")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = size_text(ArchiveLimits.from_settings().max_archive_bytes)
        self.fields["archive"].help_text = (
            f"One folder per class: 'goldfinch/photo1.jpg'. At most {limit}. Each image: "
            f"{image_rules()} Other files are skipped and listed."
        )


class CsvUploadForm(forms.Form):
    csv_file = forms.FileField(label="CSV of file,class")
    files = forms.FileField(label="Zip of the files")
    compute = forms.BooleanField(required=False, initial=True, label="Start computing right away")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limits = ArchiveLimits.from_settings()
        self.fields["csv_file"].help_text = f"At most {size_text(limits.max_csv_bytes)}."
        self.fields[
            "files"
        ].help_text = f"At most {size_text(limits.max_archive_bytes)}. Each image: {image_rules()}"


class LeakControlForm(forms.Form):
    """A campaign's accepted languages and forbidden terms (leak control, issue 12)."""

    languages = forms.CharField(
        max_length=100,
        initial="en",
        help_text="ISO 639-1 codes, comma-separated; the first is the main one (e.g. 'en' or "
        "'en, fr'). Characteristics in any other language are refused; labels in a second "
        "language are grouped apart from the main one's.",
    )
    forbidden_terms = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        label="Forbidden terms",
        help_text="One class and language per line: 'class | language: term, term' (e.g. "
        "'tripod | de: Stativ, Dreibein' or 'tabby | en: moggy'). Characteristics using them "
        "(however spelled) are refused like the class names. Replaces the current list.",
    )

    def clean_languages(self) -> list[str]:
        return [c.strip() for c in self.cleaned_data["languages"].split(",") if c.strip()]
