"""The tagger and the canvas on a team's task: each labeler's widget shows images
claimed for them, never another's while the task asks for one label per image."""

import pytest

from conftest import write_images
from geolabel_widgets import CanvasLabeler, ImageTagger
from widget_drivers import Browser

pytestmark = pytest.mark.both_backends


@pytest.fixture
def team_store(store, tmp_path):
    write_images(tmp_path / "images", 30)
    store.add_images(tmp_path / "images", dataset="event", progress=False)
    store.add_task("flood", classes=["present", "not present"])
    for labeler in ("ann", "bob"):
        store.assign("flood", labeler)
    return store


def test_two_labelers_taggers_never_share_an_image(team_store):
    ann = ImageTagger(team_store, task="flood", labeler="ann", claim=10)
    bob = ImageTagger(team_store, task="flood", labeler="bob", claim=10)
    assert len(ann.queue) == len(bob.queue) == 10
    assert not set(ann.queue) & set(bob.queue)
    # ann works on: near the end of her batch, the next one is claimed
    browser = Browser(ann)
    for image_id in ann.queue[:5]:
        assert browser.say(type="tag", image_id=image_id, value="present",
                           req=1)["type"] == "saved"
    browser.say(type="need", position=5, have=[])
    assert ann.total == len(ann.queue) == 20
    assert not set(ann.queue) & set(bob.queue)
    # bob leaves: what he held and did not label goes to whoever asks next
    bob_held = set(bob.queue)
    bob.close()
    browser.say(type="need", position=15, have=[])
    assert bob_held <= set(ann.queue) and ann.total == 30
    ann.close()
    assert team_store.leases.empty


def test_the_canvas_claims_the_next_batch_past_its_last_image(team_store):
    canvas = CanvasLabeler(team_store, task="flood", labeler="ann", claim=3)
    assert len(canvas.queue) == 3 and canvas.controls.jump.max == 3
    canvas.go(2)
    assert len(canvas.queue) == 6 and canvas.controls.jump.max == 6
    held = set(team_store.leases["image_id"])
    assert held == set(canvas.queue)
    canvas.close()
    assert team_store.leases.empty


def test_a_team_widget_says_filters_do_not_choose_claimed_images(team_store):
    with pytest.raises(ValueError, match="dataset cannot choose them"):
        ImageTagger(team_store, task="flood", labeler="ann", dataset="event")
    whole = ImageTagger(team_store, task="flood", labeler="ann", claim=0, dataset="event")
    assert len(whole.queue) == 30 and team_store.leases.empty
    whole.close()


def test_someone_not_assigned_gets_a_clear_error(team_store):
    with pytest.raises(ValueError, match="assigned to ann, bob, not to 'cy'"):
        ImageTagger(team_store, task="flood", labeler="cy")


def test_a_finished_queue_does_not_claim_on_every_step(team_store):
    tagger = ImageTagger(team_store, task="flood", labeler="ann", claim=30)
    browser = Browser(tagger)
    claims = []
    original = team_store.claim
    team_store.claim = lambda *args, **kwargs: claims.append(args) or original(*args, **kwargs)
    for position in (25, 26, 27, 28):  # near the end, with nothing left to claim
        browser.say(type="need", position=position, have=[])
    assert len(claims) == 1 and tagger.total == 30
    tagger.close()
