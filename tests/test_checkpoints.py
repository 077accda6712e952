"""Checkpoint loading: official layout without pytracking installed, refusal of hostile pickles, clear errors for the
wrong file in a slot, damaged files and mismatching constructors / keys / shapes; the check-weights command."""
import os
import pickle
import subprocess
import sys
import zipfile
import builtins

import pytest
import torch

import fidelity_weights as fw
from tracker import checkpoints as ck
from tracker.cli import main as cli_main
from tracker.errors import CheckpointError


@pytest.fixture(scope="session")
def ckpt_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def simple_file(fidelity, ckpt_dir):
    return fw.save_checkpoint(ckpt_dir / "super_dimp_simple.pth.tar",
                              fw.state_dict(fidelity, "super_dimp_simple"), "super_dimp_simple")


@pytest.fixture(scope="session")
def keep_track_file(fidelity, ckpt_dir):
    return fw.save_checkpoint(ckpt_dir / "keep_track.pth.tar", fw.state_dict(fidelity, "keep_track"), "keep_track")


@pytest.fixture(scope="session")
def super_dimp_file(fidelity, ckpt_dir):
    return fw.save_checkpoint(ckpt_dir / "super_dimp.pth.tar", fw.state_dict(fidelity, "super_dimp"), "super_dimp")


def test_official_layout_really_references_ltr(simple_file):
    with zipfile.ZipFile(simple_file) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    assert b"ltr.admin.model_constructor" in data and b"NetConstructor" in data
    assert "ltr" not in sys.modules


def test_base_net_loads_and_runs(fidelity, simple_file):
    report = ck.inspect_checkpoint(simple_file)
    assert (report.kind, report.fits, report.problems) == ("super_dimp_simple", True, [])
    net = ck.load_base_net(simple_file)
    assert "ltr" not in sys.modules  # loaded without any pytracking package
    assert not net.training
    rule = fw.state_dict(fidelity, "super_dimp_simple")
    assert torch.equal(net.state_dict()["bb_regressor.fc3_rt.linear.weight"], rule["bb_regressor.fc3_rt.linear.weight"])
    vectors = torch.load(fidelity / "classifier.pt", weights_only=True)
    with torch.no_grad():
        feat = net.classifier.extract_classification_feat(vectors["layer3_train"])
        filt = net.classifier.init_filter(feat, vectors["train_boxes_xywh"])
        filt, _ = net.classifier.optimize_filter(filt, feat, labels=vectors["labels"], num_iter=5)
    assert torch.allclose(filt, vectors["filter_gn5_uniform"], rtol=1e-4, atol=1e-4 * 2.0)
    with torch.no_grad():  # the backbone runs (shapes; its numbers are covered by test_fidelity_backbone)
        out = net.extract_backbone(torch.zeros(1, 3, 64, 64))
    assert out["layer2"].shape == (1, 512, 8, 8) and out["layer3"].shape == (1, 1024, 4, 4)


def test_association_net_loads_and_runs(fidelity, keep_track_file):
    report = ck.inspect_checkpoint(keep_track_file)
    assert (report.kind, report.fits) == ("keep_track", True)
    net = ck.load_association_net(keep_track_file)
    assert not hasattr(net, "feature_extractor")  # the unused ResNet is checked, not kept
    v = torch.load(fidelity / "association.pt", weights_only=True)
    with torch.no_grad():
        d0 = net.descriptor_extractor.get_descriptors(v["layer3_0"], v["cells0_rc"])
        d1 = net.descriptor_extractor.get_descriptors(v["layer3_1"], v["cells1_rc"])
        result = net.matcher(d0, d1, v["img_coords0_yx"], v["img_coords1_yx"], v["scores0"][None], v["scores1"][None],
                             tuple(v["image_size_hw"]))
    assert torch.equal(result.matches1, v["inference"]["matches1"])
    assert torch.allclose(result.log_assignment, v["inference"]["log_assignment"], atol=1e-3)


def test_super_dimp_loads_as_its_own_variant(super_dimp_file):
    net = ck.load_base_net(super_dimp_file, variant="super_dimp")
    assert net.variant == "super_dimp" and not net.classifier.uses_labels
    feat = torch.randn(2, 512, 8, 8)
    boxes = torch.tensor([[40.0, 40.0, 32.0, 32.0], [44.0, 36.0, 32.0, 40.0]])
    with torch.no_grad():
        filt, iterates = net.classifier.optimize_filter(torch.zeros(1, 512, 4, 4) + 1e-3, feat, boxes_xywh=boxes,
                                                        num_iter=2)
    assert len(iterates) == 3 and torch.isfinite(filt).all()


@pytest.mark.parametrize("slot", ["base", "association"])
def test_wrong_checkpoint_for_slot(simple_file, keep_track_file, super_dimp_file, slot):
    if slot == "base":
        with pytest.raises(CheckpointError, match="KeepTrack association network.*base network must be"):
            ck.load_base_net(keep_track_file)
        with pytest.raises(CheckpointError, match="SuperDiMP base network.*super_dimp_simple"):
            ck.load_base_net(super_dimp_file)  # KeepTrack needs SuperDiMP-Simple
    else:
        with pytest.raises(CheckpointError, match="association network must be"):
            ck.load_association_net(simple_file)


def test_constructor_mismatches_are_all_listed(fidelity, ckpt_dir):
    kwds = dict(fw.SIMPLE_KWDS, hinge_threshold=0.1, out_feature_dim=256, new_option=3)
    del kwds["filter_size"]
    path = fw.save_checkpoint(ckpt_dir / "bad_ctor.pth.tar", fw.state_dict(fidelity, "super_dimp_simple"),
                              "super_dimp_simple", kwds=kwds)
    with pytest.raises(CheckpointError) as info:
        ck.load_base_net(path)
    text = str(info.value)
    for expected in ("hinge_threshold=0.1", "out_feature_dim=256", "new_option=3", "does not state filter_size"):
        assert expected in text


def test_other_pytracking_network_is_named():
    record = ck.ConstructorRecord("klcedimpnet50", "ltr.models.tracking.dimpnet", (), {})
    kind, how = ck.identify(ck.Checkpoint(None, {}, record, []))
    assert kind is None and "PrDiMP" in how


def test_key_and_shape_mismatches_are_all_listed(fidelity):
    state = dict(fw.state_dict(fidelity, "keep_track"))
    del state["matcher.final_proj.bias"]
    del state["descriptor_extractor.conv.weight"]
    state["matcher.extra.weight"] = torch.zeros(3)
    state["matcher.kenc.encoder.0.weight"] = torch.zeros(32, 2, 1)
    problems = ck.check_state(state, "keep_track")
    text = "\n".join(problems)
    for expected in ("2 missing entries", "matcher.final_proj.bias", "descriptor_extractor.conv.weight",
                     "1 unexpected entries: matcher.extra.weight", "matcher.kenc.encoder.0.weight has shape (32, 2, 1)"):
        assert expected in text
    # Absent BatchNorm counters are tolerated (older files).
    state = {k: v for k, v in fw.state_dict(fidelity, "keep_track").items() if not k.endswith("num_batches_tracked")}
    assert ck.check_state(state, "keep_track") == []


def test_mismatching_file_is_refused_with_the_list(fidelity, ckpt_dir):
    state = dict(fw.state_dict(fidelity, "keep_track"))
    state["matcher.bin_score"] = torch.ones(2)
    state["matcher.final_proj.bias"] = torch.tensor([float("nan")] * 256)
    path = fw.save_checkpoint(ckpt_dir / "bad_shapes.pth.tar", state, "keep_track")
    with pytest.raises(CheckpointError, match=r"(?s)matcher.bin_score has shape \(2,\).*NaN"):
        ck.load_association_net(path)


class Hostile:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


@pytest.mark.parametrize("how", ["os.system", "exec", "subprocess"])
@pytest.mark.parametrize("container", ["zip", "legacy", "pickle"])
def test_hostile_pickle_is_refused_before_running(tmp_path, how, container):
    marker = tmp_path / "executed"
    payload = {"os.system": Hostile(os.system, f"touch {marker}"),
               "exec": Hostile(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
               "subprocess": Hostile(subprocess.call, ["touch", str(marker)])}[how]
    path = tmp_path / "hostile.pth.tar"
    obj = {"constructor": payload, "net": {"w": torch.zeros(2)}}  # payload first: it is what must be refused
    if container == "pickle":
        with open(path, "wb") as f:
            pickle.dump(obj, f)
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=(container == "zip"))
    with pytest.raises(CheckpointError, match="refused as unsafe") as info:
        ck.read_checkpoint(path)
    assert ("system" in str(info.value) or "exec" in str(info.value) or "subprocess" in str(info.value))
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        ck.load_base_net(path)
    assert not marker.exists()


def test_hostile_payload_would_really_execute(tmp_path):
    """Shows the hostile files above are live: an unrestricted unpickler creates the marker."""
    marker = tmp_path / "executed"
    data = pickle.dumps(Hostile(os.system, f"touch {marker}"))
    pickle.loads(data)
    assert marker.exists()


def test_legacy_format_checkpoint_loads(fidelity, ckpt_dir):
    path = fw.save_checkpoint(ckpt_dir / "legacy_keep_track.pth.tar", fw.state_dict(fidelity, "keep_track"),
                              "keep_track", legacy=True)
    assert not zipfile.is_zipfile(path)
    assert ck.inspect_checkpoint(path).fits


def test_damaged_and_foreign_files(tmp_path, simple_file):
    cases = {}
    data = simple_file.read_bytes()
    (tmp_path / "truncated.pth.tar").write_bytes(data[: len(data) // 3])
    cases["truncated.pth.tar"] = "truncated or damaged"
    (tmp_path / "empty.pth.tar").write_bytes(b"")
    cases["empty.pth.tar"] = "empty"
    (tmp_path / "garbage.pth.tar").write_bytes(bytes(range(256)) * 8)
    cases["garbage.pth.tar"] = "not a PyTorch checkpoint"
    with open(tmp_path / "plain.pkl", "wb") as f:
        pickle.dump({"net": 1}, f)
    cases["plain.pkl"] = "not a PyTorch checkpoint"
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    cases["list.pt"] = "expected a dict with a 'net' state dict"
    torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "other.pt")
    cases["other.pt"] = "not a pytracking checkpoint"
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    cases["archive.zip"] = "not a PyTorch checkpoint"
    with zipfile.ZipFile(tmp_path / "script.pt", "w") as archive:
        archive.writestr("script/data.pkl", b"")
        archive.writestr("script/constants.pkl", b"")
        archive.writestr("script/code/__torch__.py", "def forward(self): pass")
    cases["script.pt"] = "TorchScript"
    cases["missing.pth.tar"] = "no such file"
    for name, message in cases.items():
        with pytest.raises(CheckpointError, match=message) as info:
            ck.load_base_net(tmp_path / name)
        assert name in str(info.value)


def test_check_weights_command(simple_file, keep_track_file, super_dimp_file, tmp_path, capsys):
    assert cli_main(["check-weights", str(simple_file), str(keep_track_file)]) == 0
    out = capsys.readouterr().out
    assert "SuperDiMP-Simple base network" in out and "KeepTrack association network" in out
    assert out.count("fits:") == 2
    assert cli_main(["check-weights", str(simple_file), str(super_dimp_file)]) == 0  # both fit some engine
    capsys.readouterr()
    (tmp_path / "junk.pth.tar").write_bytes(b"junk")
    assert cli_main(["check-weights", str(super_dimp_file), str(tmp_path / "junk.pth.tar")]) == 2  # bad input
    out = capsys.readouterr().out
    assert "SuperDiMP base network" in out and "superdimp engine" in out
    assert "junk.pth.tar" in out and "not a PyTorch checkpoint" in out


@pytest.mark.parametrize("kind", ["super_dimp_simple", "keep_track"])
def test_module_tree_equals_official_manifest(fidelity, kind):
    """Same keys, same order, same shapes as the original networks' state_dict() (BN counters included)."""
    manifest = [(k, tuple(s)) for k, s in fw.manifest(fidelity, kind)]
    assert list(ck.expected_state_shapes(kind).items()) == manifest


def test_parameter_counts_match_the_reference():
    from tracker.nets.association import TargetCandidateMatchingNet
    from tracker.nets.base_net import DiMPNet

    def count(module):
        return sum(p.numel() for p in module.parameters())

    with torch.device("meta"):
        base, assoc = DiMPNet(), TargetCandidateMatchingNet(with_backbone=True)
    assert count(base.feature_extractor) == 25_557_032
    assert count(base.classifier) == 7_078_401
    assert count(base.bb_regressor) == 10_461_569
    assert count(assoc.descriptor_extractor) == 4_194_560
    assert count(assoc.matcher) == 2_808_833
    assert count(assoc.matcher.kenc) == 110_336 and count(assoc.matcher.gnn) == 2_632_704
