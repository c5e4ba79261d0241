"""Bad and good uploads for campaign administration: archives, CSVs and model files.

Every fatal case must give a clear message and leave nothing behind: no CampaignImage, no job,
no file under MEDIA_ROOT.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest
from django.conf import settings

from campaigns import services as campaign_services
from core.errors import ApplicationError
from explanations.models import Campaign, CampaignImage, ExplanationJob, ModelSpec
from explanations.services import model_spec_validate
from tests.campaigns.support import make_zip, png, symlink_zip, upload
from tests.conftest import tiny_torchscript_bytes

pytestmark = pytest.mark.django_db

RED, GREEN, BLUE = "red thing", "green thing", "blue thing"


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_nothing_stored(campaign: Campaign) -> None:
    assert not CampaignImage.objects.filter(campaign=campaign).exists()
    assert not ExplanationJob.objects.filter(image__campaign=campaign).exists()
    assert [p for p in stored_files() if "images" in p.parts] == []


def import_zip(campaign, content: bytes):
    return campaign_services.campaign_archive_import(
        campaign=campaign, archive=io.BytesIO(content), enqueue=False
    )


def refused(campaign, content: bytes) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        import_zip(campaign, content)
    assert_nothing_stored(campaign)
    return exc.value


# --- zip of class folders: accepted -----------------------------------------------------------


def test_zip_of_class_folders_adds_images_and_reports_skipped_files(tiny_campaign):
    content = make_zip(
        {
            f"{RED}/": None,
            f"{RED}/a.png": png((250, 0, 0)),
            f"{RED}/b.png": png((240, 10, 0)),
            f"{RED}/notes.txt": b"not an image",
            f"{GREEN}/c.png": png((0, 250, 0)),
            f"{GREEN}/broken.jpg": b"\xff\xd8\xff garbage",
            "__MACOSX/._a.png": b"junk",
            "readme.md": b"hello",
        }
    )
    report = import_zip(tiny_campaign, content)
    assert len(report.added) == 3
    assert report.class_counts == {RED: 2, GREEN: 1}
    reasons = {s.name: s.reason for s in report.skipped}
    assert reasons[f"{RED}/notes.txt"] == "not an image (.txt)"
    assert reasons[f"{GREEN}/broken.jpg"].startswith("not a readable image")
    assert reasons["readme.md"] == "not inside a class folder"
    assert reasons["__MACOSX/._a.png"] == "system file"
    images = CampaignImage.objects.filter(campaign=tiny_campaign)
    assert sorted(images.values_list("true_class", flat=True)) == [GREEN, RED, RED]
    assert (
        ExplanationJob.objects.filter(image__campaign=tiny_campaign, status="queued").count() == 3
    )
    assert all(Path(settings.MEDIA_ROOT, i.file.name).exists() for i in images)


def test_one_root_folder_and_loose_folder_names_are_accepted(tiny_campaign):
    content = make_zip(
        {"dataset/Red_Thing/a.png": png((250, 0, 0)), "dataset/blue-thing/b.png": png((0, 0, 250))}
    )
    report = import_zip(tiny_campaign, content)
    assert report.class_counts == {RED: 1, BLUE: 1}
    assert report.folder_classes == {"Red_Thing": RED, "blue-thing": BLUE}


def test_duplicates_inside_the_archive_and_in_the_campaign_are_skipped(tiny_campaign):
    first = import_zip(tiny_campaign, make_zip({f"{RED}/a.png": png(), f"{RED}/a2.png": png()}))
    assert len(first.added) == 1
    assert first.skipped[0].reason == f"same image as {RED}/a.png"
    second = import_zip(
        tiny_campaign, make_zip({f"{RED}/again.png": png(), f"{RED}/new.png": png((1, 2, 3))})
    )
    assert len(second.added) == 1
    assert {s.reason for s in second.skipped} == {"already in the campaign"}


# --- zip of class folders: refused, nothing stored ----------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../evil.png", f"{RED}/../../evil.png", "/etc/evil.png", "\\windows\\evil.png", "C:/evil.png"],
)
def test_paths_escaping_the_folder_are_refused(tiny_campaign, name):
    error = refused(tiny_campaign, make_zip({f"{RED}/ok.png": png(), name: png((1, 1, 1))}))
    assert "escape" in error.message and name in error.message


def test_symbolic_links_are_refused(tiny_campaign):
    error = refused(tiny_campaign, symlink_zip(f"{RED}/link.png", "/etc/passwd"))
    assert "symbolic link" in error.message


def test_zip_bomb_by_ratio_is_refused(tiny_campaign):
    bomb = make_zip({f"{RED}/ok.png": png(), f"{RED}/huge.png": b"\0" * (30 * 1024 * 1024)})
    assert len(bomb) < 200_000
    error = refused(tiny_campaign, bomb)
    assert "zip bomb" in error.message and "huge.png" in error.message


def test_zip_bomb_by_total_size_is_refused(tiny_campaign, settings):
    settings.NETVIZ_MAX_ARCHIVE_UNCOMPRESSED_BYTES = 2_000
    error = refused(tiny_campaign, make_zip({f"{RED}/{i}.png": png((i, 0, 0)) for i in range(60)}))
    assert "expand" in error.message and "zip bomb" in error.message


def test_pixel_bomb_archives_are_refused_before_decoding_them(tiny_campaign, settings, monkeypatch):
    """Small PNGs of millions of black pixels: the pixels of all images, read from their
    headers, have a budget, and duplicates are found from their bytes before any decoding."""
    from campaigns import import_plans

    decoded = []
    real = import_plans.decode_image
    monkeypatch.setattr(
        import_plans, "decode_image", lambda content, **kw: decoded.append(1) or real(content, **kw)
    )
    big = [png((i, 0, 0), size=2000) for i in range(3)]  # 4 million pixels each, a few KB
    assert max(len(b) for b in big) < 50_000
    copies = import_zip(tiny_campaign, make_zip({f"{RED}/{i}.png": big[0] for i in range(5)}))
    assert len(copies.added) == 1 and len(decoded) == 1  # 4 copies skipped by their hash
    settings.NETVIZ_MAX_ARCHIVE_PIXELS = 6_000_000
    decoded.clear()
    error = refused_again(
        tiny_campaign, make_zip({f"{RED}/b{i}.png": b for i, b in enumerate(big)})
    )
    # b0 is already in the campaign; b1 fits (4 M); b2 would make 8 M: refused, never decoded
    assert "pixels in all" in error.message and len(decoded) == 1


def refused_again(campaign, content: bytes) -> ApplicationError:
    before = CampaignImage.objects.filter(campaign=campaign).count()
    with pytest.raises(ApplicationError) as exc:
        import_zip(campaign, content)
    assert CampaignImage.objects.filter(campaign=campaign).count() == before
    return exc.value


@pytest.mark.parametrize(
    "name, content",
    [
        (f"{RED}/more.zip", make_zip({"x.png": png()})),
        (f"{RED}/more.tar.gz", b"\x1f\x8b\x08\x00 fake gzip"),
        (f"{RED}/disguised.png", make_zip({"x.png": png()})),
    ],
)
def test_nested_archives_are_refused(tiny_campaign, name, content):
    error = refused(tiny_campaign, make_zip({f"{RED}/ok.png": png(), name: content}))
    assert "Archives inside the archive" in error.message and name in error.message


def test_empty_class_folder_is_refused(tiny_campaign):
    error = refused(tiny_campaign, make_zip({f"{RED}/a.png": png(), f"{BLUE}/": None}))
    assert f"'{BLUE}/' is empty" in error.message


def test_class_folder_with_only_non_images_is_refused(tiny_campaign):
    error = refused(tiny_campaign, make_zip({f"{RED}/a.png": png(), f"{BLUE}/notes.txt": b"text"}))
    assert f"'{BLUE}/' has no image" in error.message


def test_class_folder_not_in_the_model_classes_is_refused(tiny_campaign):
    error = refused(tiny_campaign, make_zip({f"{RED}/a.png": png(), "dog/b.png": png((0, 0, 1))}))
    assert "'dog/'" in error.message and "not among the model's classes" in error.message
    assert error.extra["errors"] == ["'dog/'"]


def test_folder_outside_the_campaign_subset_is_refused(tiny_spec):
    from explanations.services import campaign_create

    campaign = campaign_create(name="Reds only", model=tiny_spec, classes=[RED])
    error = refused(campaign, make_zip({f"{RED}/a.png": png(), f"{GREEN}/b.png": png((0, 9, 0))}))
    assert f"'{GREEN}/'" in error.message


def test_not_a_zip_and_no_image_are_refused(tiny_campaign):
    assert "not a readable zip" in refused(tiny_campaign, b"plain text, not a zip").message
    assert "no class folders" in refused(tiny_campaign, make_zip({"a.png": png()})).message


def test_a_failure_while_storing_leaves_no_row_and_no_file(tiny_campaign, monkeypatch):
    calls = {"n": 0}
    real = campaign_services.explanation_job_create

    def flaky(*, image):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return real(image=image)

    monkeypatch.setattr(campaign_services, "explanation_job_create", flaky)
    with pytest.raises(RuntimeError):
        import_zip(tiny_campaign, make_zip({f"{RED}/a.png": png(), f"{RED}/b.png": png((1, 1, 1))}))
    assert_nothing_stored(tiny_campaign)


def test_closed_campaign_refuses_images(tiny_campaign):
    tiny_campaign.status = Campaign.Status.CLOSED
    tiny_campaign.save()
    with pytest.raises(ApplicationError, match="closed"):
        import_zip(tiny_campaign, make_zip({f"{RED}/a.png": png()}))


# --- CSV of file,class ---------------------------------------------------------------------------


def import_csv(campaign, csv_text: str, files: dict[str, bytes]):
    return campaign_services.campaign_csv_import(
        campaign=campaign,
        csv_content=csv_text.encode(),
        archive=io.BytesIO(make_zip(files)),
        enqueue=False,
    )


def test_csv_with_zip_adds_listed_files_and_skips_the_rest(tiny_campaign):
    report = import_csv(
        tiny_campaign,
        'file,class\nphotos/a.png,red thing\nb.png,"blue thing"\n',
        {"photos/a.png": png(), "photos/b.png": png((0, 0, 200)), "photos/c.png": png((3, 3, 3))},
    )
    assert report.class_counts == {RED: 1, BLUE: 1}
    assert [(s.name, s.reason) for s in report.skipped] == [
        ("photos/c.png", "not listed in the CSV")
    ]


@pytest.mark.parametrize(
    "csv_text, message",
    [
        ("file,class\nmissing.png,red thing\n", "not in the zip"),
        ("file,class\na.png,dog\n", "not among the model's classes"),
        ("file,class\na.png\n", "two columns"),
        ("file,class\na.png,red thing\na.png,blue thing\n", "different classes"),
        ("", "empty"),
    ],
)
def test_bad_csv_is_refused_with_nothing_stored(tiny_campaign, csv_text, message):
    with pytest.raises(ApplicationError) as exc:
        import_csv(tiny_campaign, csv_text, {"a.png": png()})
    assert message in exc.value.message
    assert_nothing_stored(tiny_campaign)


def test_csv_zip_gets_the_same_safety_checks(tiny_campaign):
    with pytest.raises(ApplicationError, match="escape"):
        import_csv(tiny_campaign, "a.png,red thing\n", {"a.png": png(), "../x.png": png((1, 1, 1))})
    assert_nothing_stored(tiny_campaign)


# --- model uploads through the admin page ---------------------------------------------------------


def post_model(client, capture, **files):
    """Register a model from the form, then run its validation as the worker would."""
    data = {"name": "uploaded", "kind": files.pop("kind", "torchscript")}
    data.update(files)
    response = client.post("/manage/models/new/", data)
    spec = ModelSpec.objects.filter(name="uploaded").first()
    if spec is not None:
        with capture(execute=True):  # a failure removes the files on commit
            model_spec_validate(spec_id=spec.pk)
    return response


def validation_error(client) -> str:
    """The failed validation's reason, as the model's page shows it."""
    spec = ModelSpec.objects.get(name="uploaded")
    assert spec.status == "failed"
    page = client.get("/manage/models/uploaded/").content.decode()
    assert html.escape(spec.error) in page
    return spec.error


def assert_no_model_kept():
    assert not ModelSpec.objects.usable().exists()
    assert [p for p in stored_files() if "models" in p.parts] == []


def classes_file(n: int = 3):
    return upload("classes.txt", "\n".join(f"class {i}" for i in range(n)).encode(), "text/plain")


def test_corrupt_torchscript_upload_is_refused(staff_client, django_capture_on_commit_callbacks):
    response = post_model(
        staff_client,
        django_capture_on_commit_callbacks,
        weights=upload("m.pt", b"garbage, not torchscript"),
        class_names=classes_file(),
    )
    assert response.status_code == 302
    assert validation_error(staff_client)
    assert_no_model_kept()


def test_state_dict_for_the_wrong_architecture_is_refused(
    admin_client, django_capture_on_commit_callbacks
):
    import torch

    from tests.conftest import build_tiny_model

    buffer = io.BytesIO()
    torch.save(build_tiny_model().state_dict(), buffer)
    post_model(
        admin_client,
        django_capture_on_commit_callbacks,
        kind="state_dict",
        architecture="torchvision:resnet18",
        weights=upload("sd.pt", buffer.getvalue()),
        class_names=classes_file(),
    )
    errors = validation_error(admin_client)
    assert "resnet18" in errors or "match" in errors.lower(), errors
    assert_no_model_kept()


def test_class_names_file_with_the_wrong_count_is_refused(
    staff_client, django_capture_on_commit_callbacks
):
    post_model(
        staff_client,
        django_capture_on_commit_callbacks,
        weights=upload("m.pt", tiny_torchscript_bytes()),
        class_names=classes_file(5),
    )
    errors = validation_error(staff_client)
    assert "3" in errors and "5" in errors, errors
    assert_no_model_kept()


def test_good_torchscript_upload_registers_and_leads_to_the_campaign_form(
    staff_client, django_capture_on_commit_callbacks
):
    response = post_model(
        staff_client,
        django_capture_on_commit_callbacks,
        weights=upload("m.pt", tiny_torchscript_bytes()),
        class_names=classes_file(3),
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/models/uploaded/"
    spec = ModelSpec.objects.get()
    assert spec.class_names == ["class 0", "class 1", "class 2"]
    model_page = staff_client.get(response["Location"]).content.decode()
    assert "/manage/campaigns/new/?model=uploaded" in model_page
    page = staff_client.get("/manage/campaigns/new/?model=uploaded").content.decode()
    for layer in spec.explainable_layers:
        assert f'value="{layer}"' in page


# --- stored names come from the decoded format (D1) ------------------------------------------------


def encoded(fmt: str, *, size: int = 40, **save) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (20, 120, 220)).save(buffer, fmt, **save)
    return buffer.getvalue()


def gif_with_script() -> bytes:
    """A valid GIF whose comment is an HTML script (the D1 attack)."""
    return encoded("GIF", comment=b"<script>fetch('/manage/')</script>")


def stored_bytes(image: CampaignImage) -> bytes:
    return Path(settings.MEDIA_ROOT, image.file.name).read_bytes()


@pytest.mark.parametrize(
    ("content", "client_name", "suffix", "same_bytes"),
    [
        (gif_with_script(), "x.html", ".png", False),
        (encoded("JPEG"), "photo.html", ".jpg", True),
        (encoded("PNG"), "picture.svg", ".png", True),
        (encoded("WEBP"), "a.png", ".webp", True),
        (encoded("BMP"), "scan.bmp", ".png", False),
        (encoded("PNG"), "no-extension", ".png", True),
    ],
)
def test_a_single_image_is_stored_under_its_decoded_format_not_its_name(
    admin_client, tiny_campaign, content, client_name, suffix, same_bytes
):
    response = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload(client_name, content, "text/html"), "true_class": RED},
    )
    assert response.status_code == 302
    image = CampaignImage.objects.get(campaign=tiny_campaign)
    assert Path(image.file.name).suffix == suffix
    assert image.original_name == client_name  # still shown (and exported) as uploaded
    assert (stored_bytes(image) == content) is same_bytes
    assert b"<script>" not in stored_bytes(image)
    from PIL import Image

    with Image.open(Path(settings.MEDIA_ROOT, image.file.name)) as stored:
        assert stored.format == {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[suffix]


def test_the_image_api_stores_the_decoded_format_too(admin_client, tiny_campaign):
    response = admin_client.post(
        f"/api/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload("x.html", gif_with_script(), "text/html"), "true_class": RED},
    )
    assert response.status_code == 201, response.content
    image = CampaignImage.objects.get(pk=response.json()["image_ids"][0])
    assert image.file.name.endswith(".png") and b"<script>" not in stored_bytes(image)


def test_zip_and_csv_images_are_stored_under_their_decoded_format(tiny_campaign):
    report = import_zip(
        tiny_campaign,
        make_zip(
            {
                f"{RED}/really-a-png.jpg": png((250, 0, 0)),
                f"{RED}/anim.gif": gif_with_script(),
                f"{GREEN}/photo.jpeg": encoded("JPEG"),
            }
        ),
    )
    suffixes = {i.original_name: Path(i.file.name).suffix for i in report.added}
    assert suffixes == {
        f"{RED}/really-a-png.jpg": ".png",
        f"{RED}/anim.gif": ".png",
        f"{GREEN}/photo.jpeg": ".jpg",
    }
    assert all(b"<script>" not in stored_bytes(i) for i in report.added)
    report = import_csv(tiny_campaign, "b.tif,blue thing\n", {"b.tif": encoded("TIFF")})
    (image,) = report.added
    assert image.file.name.endswith(".png") and image.original_name == "b.tif"


# --- a minimum image side (D16) --------------------------------------------------------------------


def test_a_tiny_image_is_refused_at_upload_with_the_minimum_side(admin_client, tiny_campaign):
    response = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload("dot.png", png(size=1), "image/png"), "true_class": RED},
        follow=True,
    )
    assert "1×1 pixels; each side must be at least 32 pixels" in response.content.decode()
    api = admin_client.post(
        f"/api/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload("dot.png", png(size=31), "image/png"), "true_class": RED},
    )
    assert api.status_code == 400 and "at least 32 pixels" in api.json()["detail"]
    assert_nothing_stored(tiny_campaign)


def test_a_tiny_image_in_a_zip_is_skipped_with_the_reason(tiny_campaign, settings):
    settings.NETVIZ_MIN_IMAGE_SIDE = 48
    report = import_zip(
        tiny_campaign, make_zip({f"{RED}/ok.png": png(size=48), f"{RED}/t.png": png(size=40)})
    )
    assert len(report.added) == 1
    (skipped,) = report.skipped
    assert skipped.name == f"{RED}/t.png" and "at least 48 pixels" in skipped.reason


# --- a loose file beside the class folders (D17) -----------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "readme"),
    [
        (
            {
                "photos/README.md": b"# my data set",
                f"photos/{RED}/a.png": png((250, 0, 0)),
                f"photos/{BLUE}/b.png": png((0, 0, 250)),
            },
            "README.md",
        ),
        (
            {
                "README.md": b"# my data set",
                f"photos/{RED}/a.png": png((250, 0, 0)),
                f"photos/{BLUE}/b.png": png((0, 0, 250)),
            },
            "README.md",
        ),
        (
            {
                "photos/": None,
                "photos/notes.txt": b"notes",
                f"photos/{RED}/": None,
                f"photos/{RED}/a.png": png((250, 0, 0)),
                f"photos/{BLUE}/b.png": png((0, 0, 250)),
            },
            "notes.txt",
        ),
    ],
    ids=["readme-in-the-root-folder", "readme-beside-the-root-folder", "with-folder-entries"],
)
def test_a_loose_file_beside_the_class_folders_is_skipped_not_fatal(tiny_campaign, entries, readme):
    report = import_zip(tiny_campaign, make_zip(entries))
    assert report.class_counts == {RED: 1, BLUE: 1}
    assert [(s.name, s.reason) for s in report.skipped] == [(readme, "not inside a class folder")]
