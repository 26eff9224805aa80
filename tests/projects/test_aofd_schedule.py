"""AOFD's staged schedule (projects/AOFD/aofd/schedule.py, trainer.py): stage layout, adversarial
alternation, epochs, learning rates, dataset fallbacks, the whole tiny schedule under AOFDTrainer
(which parameters train in which iteration), resume in the middle of stage 2, and OHEM."""
import os

import pytest
import torch

import facelib  # noqa: F401
from detectron2.engine import HookBase
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from tiny_model import config_from_file, seeded_model
from facelib.projects.aofd import AOFDTrainer, build_schedule, resolve_datasets
from facelib.projects.aofd.ohem import per_roi_losses, select_hard_rois

TINY = os.path.join("configs", "aofd_tiny_cpu.yaml")


def _all_available(_name):
    return True


def _schedule(*opts, num_images=lambda ds: 8, available=_all_available):
    return build_schedule(config_from_file(TINY, *opts), num_images=num_images,
                          available=available)


# ---------------------------------------------------------------------- schedule as data
def test_tiny_schedule_layout_modes_and_weights():
    """Sec. 4.1's order: plain Faster R-CNN (no masks, no segmentation), the generator against
    the frozen detector, then the detector + segmentation with the generator fixed."""
    s = _schedule()
    assert [(x.name, x.mode, x.start, x.end, x.masks) for x in s.stages] == [
        ("pretrain", "detector", 0, 2, False), ("generator", "generator", 2, 6, True),
        ("sfs", "detector", 6, 8, True), ("wider_sfs", "detector", 8, 10, True),
        ("sfs_final", "detector", 10, 12, True)]  # sfs_final: 0.25 epochs x 8 images / batch 1 = 2
    assert s.total_iters == 12
    assert [s.stage_at(i).name for i in (0, 1, 2, 5, 6, 9, 11)] == [
        "pretrain", "pretrain", "generator", "generator", "sfs", "wider_sfs", "sfs_final"]
    assert [s.stages[1].mode_at(i) for i in range(2, 6)] == ["generator"] * 4
    with pytest.raises(ValueError):
        s.stages[1].mode_at(6)
    # segmentation weight: none while pretraining, MODEL.AOFD.SEG_LOSS_WEIGHT (1e-5) except
    # WIDER + SFS (1e-7, Sec. 4.1)
    assert [x.seg_loss_weight for x in s.stages] == [0.0, 1e-5, 1e-5, 1e-7, 1e-5]
    assert all(x.datasets == ("synthetic_faces_tiny",) for x in s.stages)
    # the alternation switch: "adversarial" in place of "generator"
    alt = _schedule("AOFD_SCHEDULE.STAGES", ["pretrain", "adversarial", "sfs", "wider_sfs", "sfs_final"])
    adv = alt.stages[1]
    assert (adv.name, adv.start, adv.end) == ("adversarial", 2, 6)
    assert [adv.mode_at(i) for i in range(2, 6)] == ["generator", "detector"] * 2


def test_adversarial_cycle_epochs_and_stage_selection():
    s = _schedule("AOFD_SCHEDULE.ADVERSARIAL.ITERS", 7, "AOFD_SCHEDULE.ADVERSARIAL.GENERATOR_ITERS", 2,
                  "AOFD_SCHEDULE.ADVERSARIAL.DETECTOR_ITERS", 1, "SOLVER.IMS_PER_BATCH", 3,
                  "AOFD_SCHEDULE.STAGES", ["adversarial", "sfs_final"])
    adv, last = s.stages
    assert [adv.mode_at(i) for i in range(7)] == ["generator", "generator", "detector"] * 2 + ["generator"]
    assert (last.start, last.end) == (7, 8)  # ceil(0.25 * 8 / 3) = 1
    # a stage of length 0 is skipped; order follows STAGES
    s = _schedule("AOFD_SCHEDULE.SFS.ITERS", 0, "AOFD_SCHEDULE.STAGES", ["wider_sfs", "sfs", "pretrain"])
    assert [x.name for x in s.stages] == ["wider_sfs", "pretrain"]


def test_lr_factor_per_stage_steps_and_warmup():
    s = _schedule("SOLVER.BASE_LR", 0.01, "SOLVER.GAMMA", 0.1, "SOLVER.WARMUP_ITERS", 2,
                  "SOLVER.WARMUP_FACTOR", 0.5, "AOFD_SCHEDULE.SFS.BASE_LR", 0.001,
                  "AOFD_SCHEDULE.WIDER_SFS.STEPS", [1])
    f = [s.lr_factor(i) for i in range(12)]
    assert f[0] == pytest.approx(0.5) and f[1] == pytest.approx(0.75)  # linear warm-up 0.5 -> 1
    assert f[2:6] == pytest.approx([1.0] * 4)
    assert f[6:8] == pytest.approx([0.1, 0.1])        # sfs: 0.001 / 0.01
    assert f[8:10] == pytest.approx([1.0, 0.1])       # wider_sfs: step at its 2nd iteration
    assert f[10:] == pytest.approx([1.0, 1.0])


def test_paper_schedule_lengths_and_fallbacks():
    cfg = config_from_file(os.path.join("configs", "aofd_vgg16.yaml"))
    present = {"facemask_train", "synthetic_faces_train"}
    s = build_schedule(cfg, num_images=lambda ds: {("synthetic_faces_train",): 400}[ds],
                       available=present.__contains__)
    assert [(x.name, x.iters, x.masks) for x in s.stages] == [
        ("pretrain", 50000, False), ("generator", 10000, True), ("sfs", 10000, True),
        ("wider_sfs", 50000, True), ("sfs_final", 1200, True)]
    assert s.stages[0].datasets == s.stages[1].datasets == ("facemask_train",)
    assert s.stages[3].datasets == ("facemask_train", "synthetic_faces_train")
    assert s.stages[3].seg_loss_weight == 1e-7 and s.stages[2].seg_loss_weight == 1e-5
    assert s.stages[0].seg_loss_weight == 0.0
    assert s.total_iters == 121200 and s.stages[1].base_lr == 0.001


def test_resolve_datasets():
    fb = [["sfs_train", "synthetic_faces_train"], ["widerface_train", "facemask_train"]]
    have = {"facemask_train", "synthetic_faces_train", "mafa_train"}.__contains__
    assert resolve_datasets(["widerface_train", "sfs_train"], fb, have) == (
        "facemask_train", "synthetic_faces_train")
    assert resolve_datasets(["mafa_train"], fb, have) == ("mafa_train",)
    # two names falling back to the same set do not double its weight
    assert resolve_datasets(["facemask_train", "widerface_train"], fb, have) == ("facemask_train",)
    with pytest.raises(FileNotFoundError, match="FALLBACK_DATASETS"):
        resolve_datasets(["fddb"], fb, have)
    with pytest.raises(FileNotFoundError, match="nor is its fallback"):
        resolve_datasets(["sfs_train"], fb, {"facemask_train"}.__contains__)
    with pytest.raises(ValueError):
        resolve_datasets(["x"], [["a", "b", "c"]], have)


@pytest.mark.parametrize("opts, match", [
    (("AOFD_SCHEDULE.STAGES", ["sfs", "stage9"]), "unknown stage"),
    (("AOFD_SCHEDULE.STAGES", ["sfs", "sfs"]), "twice"),
    (("AOFD_SCHEDULE.SFS_FINAL.ITERS", 5), "not both"),
    (("AOFD_SCHEDULE.SFS.MODE", "segmentation"), "MODE"),
    (("AOFD_SCHEDULE.STAGES", ["pretrain"], "AOFD_SCHEDULE.PRETRAIN.ITERS", 0), "length 0"),
])
def test_schedule_config_errors(opts, match):
    with pytest.raises(ValueError, match=match):
        _schedule(*opts)


# ---------------------------------------------------------------------- AOFDTrainer
class _Recorder(HookBase):
    """Per iteration: the model's stage, segmentation weight, LR, and whether the generator /
    the rest of the model changed in the step."""

    def __init__(self):
        self.rows = []

    def _snapshot(self):
        m = self.trainer.model
        gen = m.roi_heads.mask_generator.convs[0].weight
        det = m.roi_heads.box_predictor.cls_score.weight
        return gen.detach().clone(), det.detach().clone()

    def before_step(self):
        self._before = self._snapshot()

    def after_step(self):
        (g0, d0), (g1, d1) = self._before, self._snapshot()
        m = self.trainer.model
        self.rows.append(dict(
            iter=self.trainer.iter, stage=m.training_stage, seg=m.seg_loss_weight, masks=m.roi_masks_on,
            masked_rois=m.roi_heads.last_mask_types is not None,
            lr=self.trainer.optimizer.param_groups[0]["lr"],
            gen_changed=not torch.equal(g0, g1), det_changed=not torch.equal(d0, d1),
            # losses logged in this iteration (detectron2 logs a lone loss only as total_loss)
            losses=sorted(k for k, (_, it) in self.trainer.storage.latest().items()
                          if k.startswith("loss_") and it == self.trainer.iter),
            total=self.trainer.storage.latest()["total_loss"][0],
            data=self.trainer.data_loader.datasets_in_use,
        ))


def _trainer(tmp_path, *opts):
    from facelib.data import register_all_facelib_datasets

    register_all_facelib_datasets()
    cfg = config_from_file(TINY, "OUTPUT_DIR", str(tmp_path), "DATASETS.TEST", (), *opts)
    torch.manual_seed(0)
    trainer = AOFDTrainer(cfg)
    rec = _Recorder()
    trainer.register_hooks([rec])
    return trainer, rec


def test_tiny_config_runs_every_stage(tmp_path):
    trainer, rec = _trainer(tmp_path)
    trainer.resume_or_load(resume=False)
    trainer.train()
    assert trainer.max_iter == 12 and [r["iter"] for r in rec.rows] == list(range(12))
    stages = [r["stage"] for r in rec.rows]
    assert stages == ["detector"] * 2 + ["generator"] * 4 + ["detector"] * 6
    for r in rec.rows:
        if r["stage"] == "generator":  # only the generator trains; only L_g is returned
            assert r["gen_changed"] and not r["det_changed"]
            # L_g = gamma L_com - eta L_c alone
            assert r["losses"] == []
        else:  # the generator is frozen; detector + segmentation losses
            assert r["det_changed"] and not r["gen_changed"]
    # pretraining is a plain Faster R-CNN: no RoI masks, no segmentation weight; masks afterwards
    assert [(r["masks"], r["masked_rois"], r["seg"]) for r in rec.rows[:2]] == [(False, False, 0.0)] * 2
    assert all(r["masks"] and r["masked_rois"] for r in rec.rows[6:])
    det_losses = {"loss_cls", "loss_box_reg", "loss_rpn_cls", "loss_rpn_loc", "loss_occlusion_seg"}
    assert det_losses <= set(rec.rows[-1]["losses"])
    assert [r["seg"] for r in rec.rows[8:10]] == [1e-7, 1e-7] and rec.rows[7]["seg"] == 1e-5
    for name in ("pretrain", "generator", "sfs", "wider_sfs", "sfs_final"):
        assert os.path.isfile(tmp_path / f"model_stage_{name}.pth")
    stage_hist = [v for v, _ in trainer.storage.history("aofd/stage").values()]
    assert stage_hist == [0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4]


def test_alternating_schedule_switch_runs(tmp_path):
    """AOFD_SCHEDULE.STAGES with "adversarial": generator / detector iterations alternate."""
    trainer, rec = _trainer(tmp_path, "AOFD_SCHEDULE.STAGES", ["pretrain", "adversarial", "sfs_final"])
    trainer.resume_or_load(resume=False)
    trainer.train()
    assert [r["stage"] for r in rec.rows] == ["detector"] * 2 + ["generator", "detector"] * 2 + ["detector"] * 2
    assert rec.rows[3]["det_changed"] and not rec.rows[3]["gen_changed"] and rec.rows[3]["masked_rois"]


def test_resume_in_the_middle_of_stage_two(tmp_path):
    # interrupted after iteration 8 (the first of wider_sfs): periodic checkpoint model_0000008
    first, rec1 = _trainer(tmp_path, "SOLVER.CHECKPOINT_PERIOD", 9)

    class _Stop(HookBase):
        def after_step(self):
            if self.trainer.iter == 8:
                raise KeyboardInterrupt

    first.register_hooks([_Stop()])
    first.resume_or_load(resume=False)
    with pytest.raises(KeyboardInterrupt):
        first.train()
    assert os.path.isfile(tmp_path / "model_0000008.pth")
    with open(tmp_path / "last_checkpoint") as f:
        assert f.read().strip() == "model_0000008.pth"

    second, rec2 = _trainer(tmp_path, "SOLVER.CHECKPOINT_PERIOD", 9)
    second.resume_or_load(resume=True)
    assert second.start_iter == 9
    second.train()
    assert [r["iter"] for r in rec2.rows] == [9, 10, 11]
    r9 = rec2.rows[0]
    assert r9["stage"] == "detector" and r9["seg"] == 1e-7  # still wider_sfs
    assert r9["data"] == ("synthetic_faces_tiny",)
    assert [r["seg"] for r in rec2.rows[1:]] == [1e-5, 1e-5]  # then sfs_final
    # the LR follows the schedule after the resume (no restart of the warm-up / steps)
    s = second.schedule
    for r in rec2.rows:
        assert r["lr"] == pytest.approx(s.reference_lr * s.lr_factor(r["iter"]))
    assert rec1.rows[-1]["iter"] == 8


def test_single_stage_alone_from_stage_checkpoint(tmp_path):
    trainer, rec = _trainer(tmp_path / "a", "AOFD_SCHEDULE.STAGES", ["pretrain"])
    trainer.resume_or_load(resume=False)
    trainer.train()
    ckpt = tmp_path / "a" / "model_stage_pretrain.pth"
    assert ckpt.is_file() and trainer.max_iter == 2
    alone, rec = _trainer(tmp_path / "b", "AOFD_SCHEDULE.STAGES", ["adversarial"],
                          "MODEL.WEIGHTS", str(ckpt))
    alone.resume_or_load(resume=False)
    w0 = alone.model.roi_heads.box_predictor.cls_score.weight.detach().clone()
    w_ref = trainer.model.roi_heads.box_predictor.cls_score.weight.detach()
    assert torch.equal(w0, w_ref)  # continues from the stage checkpoint
    alone.train()
    assert [r["stage"] for r in rec.rows] == ["generator", "detector"] * 2


def test_generator_stage_without_generator_is_an_error(tmp_path):
    trainer, _ = _trainer(tmp_path, "MODEL.AOFD.GENERATOR_ON", False)
    trainer.resume_or_load(resume=False)
    with pytest.raises(ValueError, match="GENERATOR_ON"):
        trainer.train()


# ---------------------------------------------------------------------- OHEM
class _Pred:
    from detectron2.modeling.box_regression import Box2BoxTransform

    box2box_transform = Box2BoxTransform((10.0, 10.0, 5.0, 5.0))
    smooth_l1_beta = 0.0
    loss_weight = {"loss_box_reg": 1.0}


def test_ohem_per_roi_losses_by_hand():
    p = Instances((100, 100))
    p.proposal_boxes = Boxes(torch.tensor([[0., 0., 10., 10.], [50., 50., 60., 60.]]))
    p.gt_boxes = Boxes(torch.tensor([[1., 0., 11., 10.], [0., 0., 1., 1.]]))
    p.gt_classes = torch.tensor([0, 1])  # face, background (1 = num_classes)
    scores = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    deltas = torch.zeros(2, 4)
    loss = per_roi_losses(_Pred(), (scores, deltas), [p])
    ce = torch.log(torch.tensor(2.0))
    # RoI 0: CE log 2 + |dx| with dx = 10 * 1 / 10 = 1 (L1, beta 0); RoI 1: CE of class 1 only
    assert loss[0].item() == pytest.approx(ce.item() + 1.0, rel=1e-5)
    assert loss[1].item() == pytest.approx(2.0 + torch.log1p(torch.exp(torch.tensor(-2.0))).item(),
                                           rel=1e-5)


def test_ohem_selection_nms_and_budget():
    p = Instances((100, 100))
    p.proposal_boxes = Boxes(torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 11.],
                                           [50., 50., 60., 60.], [80., 80., 90., 90.]]))
    losses = torch.tensor([1.0, 3.0, 2.0, 0.5])
    # boxes 0 and 1 overlap (IoU 10/11): box 0 is suppressed by the harder box 1
    assert select_hard_rois([p], losses, 10, 0.7)[0].tolist() == [1, 2, 3]
    assert select_hard_rois([p], losses, 2, 0.7)[0].tolist() == [1, 2]
    assert select_hard_rois([p], losses, 3, 1.0)[0].tolist() == [1, 2, 0]


def test_ohem_model_trains_on_hard_rois_only():
    from test_aofd import _batch

    model = seeded_model(config_from_file(TINY, "MODEL.AOFD.OHEM", True,
                                          "MODEL.AOFD.OHEM_BATCH_SIZE_PER_IMAGE", 4))
    assert model.roi_heads.batch_size_per_image > 10 ** 6  # every proposal is labelled
    seen = []
    orig = model.roi_heads._apply_masks

    def spy(pooled, proposals):
        seen.append([len(p) for p in proposals])
        return orig(pooled, proposals)

    model.roi_heads._apply_masks = spy
    with EventStorage(0):
        losses = model(_batch())
    assert all(torch.isfinite(v) for v in losses.values())
    assert seen and all(n <= 4 for n in seen[0])
    with pytest.raises(ValueError, match="smooth_l1"):
        seeded_model(config_from_file(TINY, "MODEL.AOFD.OHEM", True,
                                      "MODEL.ROI_BOX_HEAD.BBOX_REG_LOSS_TYPE", "giou"))


# ---------------------------------------------------------------------- tools/train_net.py
def test_train_net_trains_stages_then_eval_only_on_real_wider_images(tmp_path, shared_data,
                                                                     monkeypatch):
    """The user's path: ``tools/train_net.py`` (TRAINER.NAME AOFDTrainer) trains the tiny staged
    schedule, then ``--eval-only`` evaluates the checkpoint with the WIDER FACE evaluator on the
    200 real WIDER val images (official ground-truth .mat files)."""
    import importlib.util

    monkeypatch.setenv("FACELIB_DATASETS", shared_data)
    spec = importlib.util.spec_from_file_location(
        "train_net", os.path.join(os.path.dirname(__file__), "..", "..", "tools", "train_net.py"))
    train_net = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_net)
    out = tmp_path / "run"
    common = ["--config-file", os.path.join(os.path.dirname(__file__), "..", "..", TINY),
              "OUTPUT_DIR", str(out), "DATASETS.TEST", "()"]
    train_net.main(train_net.build_parser().parse_args(common))
    assert (out / "model_final.pth").is_file() and (out / "model_stage_sfs_final.pth").is_file()
    args = train_net.build_parser().parse_args(
        ["--eval-only"] + common[:-1] + ["('widerface_val200',)", "MODEL.WEIGHTS",
                                         str(out / "model_final.pth"), "TEST.ANALYSIS.ENABLED", "True"])
    res = train_net.main(args)
    ap = res["wider_face"]  # the evaluator's task name; AP as fractions
    assert set(ap) == {"easy", "medium", "hard"}
    assert all(0.0 <= v <= 1.0 for v in ap.values())
    assert (out / "inference" / "widerface_val200" / "submission").is_dir()
    # TEST.ANALYSIS.ENABLED: the occlusion analysis of the same predictions, WIDER attributes
    analysis = res["analysis"]
    assert {"easy/AP", "medium/AP", "hard/AP", "occlusion=heavy/AP", "height=<16/AP"} <= set(analysis)
    folder = out / "inference" / "widerface_val200" / "analysis"
    assert all((folder / f).is_file() for f in ("face_predictions.json", "analysis.json", "index.html"))
