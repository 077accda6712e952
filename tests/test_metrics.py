"""Metrics against hand-computed cases (pytracking's OPE protocol, design brief §6.3)."""
import numpy as np
import pytest

from tracker.errors import InputError
from tracker.evaluation.metrics import (
    NORM_PRECISION_THRESHOLDS, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS, average_metrics, centres,
    evaluate_sequence, frame_errors, iou_inclusive, prepare_predictions, valid_frames,
)


def gt_track(n=10):
    """A target moving 3 px right per frame, 10x20 px, all values positive."""
    return np.array([[5.0 + 3 * i, 7.0, 10.0, 20.0] for i in range(n)])


def test_threshold_sets_are_the_protocols():
    assert len(SUCCESS_THRESHOLDS) == 21 and SUCCESS_THRESHOLDS[0] == 0 and SUCCESS_THRESHOLDS[-1] == 1
    assert np.allclose(np.diff(SUCCESS_THRESHOLDS), 0.05)
    assert PRECISION_THRESHOLDS.tolist() == list(range(51))
    assert len(NORM_PRECISION_THRESHOLDS) == 51 and NORM_PRECISION_THRESHOLDS[20] == pytest.approx(0.2)


def test_perfect_track_succeeds_at_every_threshold_below_one():
    gt = gt_track()
    m = evaluate_sequence(gt.copy(), gt)
    # IoU 1 is not > 1.0, so the last of the 21 thresholds fails even for a perfect track:
    # the best possible AUC under the protocol is 100 * 20 / 21.
    assert m.success_curve[:-1].tolist() == [1.0] * 20 and m.success_curve[-1] == 0.0
    assert m.auc == pytest.approx(100 * 20 / 21)
    assert m.op50 == 100 and m.op75 == 100
    assert m.precision == 100 and m.norm_precision == 100
    assert m.avg_overlap == pytest.approx(100)


def test_inclusive_pixel_iou_by_hand():
    # [1..10] x [1..10] against [6..15] x [1..10]: overlap 5 x 10 = 50, union 100 + 100 - 50.
    assert iou_inclusive([[1, 1, 10, 10]], [[6, 1, 10, 10]])[0] == pytest.approx(50 / 150)
    # touching edges share no pixel: [1..10] and [11..20]
    assert iou_inclusive([[1, 1, 10, 10]], [[11, 1, 10, 10]])[0] == 0.0
    # one-pixel overlap counts as a pixel under the inclusive convention: [1..10] and [10..19]
    assert iou_inclusive([[1, 1, 10, 10]], [[10, 10, 10, 10]])[0] == pytest.approx(1 / 199)


def test_centre_convention():
    assert centres([[10, 20, 5, 8]]).tolist() == [[12.0, 23.5]]


def test_success_needs_iou_strictly_greater_than_the_threshold():
    gt = np.array([[1.0, 1, 10, 10], [1, 1, 10, 10]])
    pred = np.array([[1.0, 1, 10, 10], [1, 1, 5, 10]])  # frame 1: IoU exactly 0.5
    m = evaluate_sequence(pred, gt)
    assert frame_errors(pred, gt).iou[1] == 0.5
    i50 = int(np.argmin(np.abs(SUCCESS_THRESHOLDS - 0.5)))
    assert m.success_curve[i50] == 0.5  # frame 0 (the GT) succeeds, frame 1 does not
    assert m.success_curve[i50 - 1] == 1.0  # 0.5 > 0.45
    assert m.op50 == 50.0


def test_precision_counts_error_equal_to_the_threshold():
    gt = gt_track(2)
    pred = gt.copy()
    pred[1, :2] += (3, 4)  # centre error exactly 5 px
    m = evaluate_sequence(pred, gt)
    assert frame_errors(pred, gt).centre_error[1] == 5.0
    assert m.precision_curve[5] == 1.0 and m.precision_curve[4] == 0.5
    assert m.precision == 100.0


def test_normalised_precision_divides_by_the_ground_truth_size():
    gt = gt_track(2)  # 10 wide, 20 high
    pred = gt.copy()
    pred[1, 0] += 1.25  # 0.125 of the width
    pred_far = gt.copy()
    pred_far[1, 1] += 5.0  # 0.25 of the height: fails at 0.2
    e = frame_errors(pred, gt)
    assert e.norm_centre_error[1] == pytest.approx(0.125)
    m = evaluate_sequence(pred, gt)
    assert m.norm_precision_curve[12] == 0.5 and m.norm_precision_curve[13] == 1.0
    assert m.norm_precision == 100.0
    assert evaluate_sequence(pred_far, gt).norm_precision == 50.0
    assert evaluate_sequence(pred_far, gt).precision == 100.0  # 5 px is within 20 px


@pytest.mark.parametrize("bad_row", [[0, 7, 10, 20], [5, -1, 10, 20], [5, 7, 0, 20], [np.nan] * 4])
def test_invalid_ground_truth_counts_as_failure_everywhere(bad_row):
    gt = gt_track(4)
    pred = gt.copy()  # the tracker is perfect
    gt[2] = bad_row
    assert valid_frames(gt).tolist() == [True, True, False, True]
    m = evaluate_sequence(pred, gt)
    assert m.success_curve[0] == 0.75 and m.precision == 75.0 and m.norm_precision == 75.0
    assert m.num_valid == 3
    assert m.avg_overlap == pytest.approx(100.0)  # AO averages over valid frames only
    e = frame_errors(pred, gt)
    assert e.iou[2] == -1 and np.isinf(e.centre_error[2]) and np.isinf(e.norm_centre_error[2])


def test_absent_frames_are_invalid():
    gt = gt_track(4)
    m = evaluate_sequence(gt.copy(), gt, absent=[False, True, True, False])
    assert m.success_curve[0] == 0.5 and m.precision == 50.0 and m.norm_precision == 50.0
    with pytest.raises(InputError, match="absent"):
        valid_frames(gt, absent=[False, True])


def test_first_prediction_becomes_the_ground_truth():
    gt = gt_track(3)
    pred = gt.copy()
    pred[0] = [100, 100, 5, 5]
    assert evaluate_sequence(pred, gt).success_curve[0] == 1.0


def test_zero_size_prediction_is_replaced_by_the_previous_one():
    gt = np.array([[1.0, 1, 10, 10]] * 4)
    pred = np.array([[1.0, 1, 10, 10], [6, 1, 10, 10], [0, 0, 0, 0], [50, 50, 10, 0]])
    prepared = prepare_predictions(pred, gt)
    assert prepared[2].tolist() == [6, 1, 10, 10] and prepared[3].tolist() == [6, 1, 10, 10]
    assert np.allclose(frame_errors(pred, gt).iou, [1, 1 / 3, 1 / 3, 1 / 3])


def test_zero_size_prediction_is_kept_where_ground_truth_is_missing():
    gt = np.array([[1.0, 1, 10, 10], [np.nan] * 4, [1, 1, 10, 10]])
    pred = np.array([[1.0, 1, 10, 10], [0, 0, 0, 0], [0, 0, 0, 0]])
    prepared = prepare_predictions(pred, gt)
    assert prepared[1].tolist() == [0, 0, 0, 0] and prepared[2].tolist() == [0, 0, 0, 0]


def test_length_mismatch_truncates_or_pads_with_failures():
    gt = gt_track(4)
    longer = np.vstack([gt, [[1, 1, 5, 5]] * 3])
    assert evaluate_sequence(longer, gt).success_curve[0] == 1.0
    shorter = gt[:2]
    prepared = prepare_predictions(shorter, gt)
    assert prepared.shape == (4, 4) and prepared[2:].tolist() == [[0, 0, 0, 0]] * 2
    m = evaluate_sequence(shorter, gt)
    assert m.success_curve[0] == 0.5 and m.num_frames == 4


def test_bad_predictions_are_refused():
    gt = gt_track(3)
    with pytest.raises(InputError, match="NaN"):
        evaluate_sequence([[5, 7, 10, 20], [np.nan, 1, 1, 1], [1, 1, 1, 1]], gt)
    with pytest.raises(InputError, match="negative size"):
        evaluate_sequence([[5, 7, 10, 20], [1, 1, -2, 1], [1, 1, 1, 1]], gt)
    with pytest.raises(InputError, match="shape"):
        evaluate_sequence([[1, 2, 3]], gt)


def test_average_weighs_sequences_equally():
    gt = gt_track(4)
    bad = gt.copy()
    bad[1:, 0] += 100  # frames 1..3 fail
    perfect, poor = evaluate_sequence(gt.copy(), gt), evaluate_sequence(bad, gt[:4])
    long_gt = gt_track(40)
    long_perfect = evaluate_sequence(long_gt.copy(), long_gt)
    mean = average_metrics([long_perfect, poor])
    assert poor.success_curve[0] == 0.25
    assert mean.success_curve[0] == pytest.approx((1.0 + 0.25) / 2)
    assert mean.auc == pytest.approx((perfect.auc + poor.auc) / 2)
    assert mean.num_frames == 44
