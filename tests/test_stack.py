"""The compiled stack works: a broken mmcv build must fail CI loudly, not at training time."""
import torch


def test_mmdet_and_mmseg_import_with_this_mmcv():
    import mmcv
    import mmdet
    import mmseg
    assert mmcv.__version__ == '2.1.0'
    assert mmdet.__version__.startswith('3.') and mmseg.__version__.startswith('1.')


def test_compiled_roi_align_on_cpu():
    from mmcv.ops import RoIAlign
    feat = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)  # value = 4 * y + x
    rois = torch.tensor([[0., 0., 0., 4., 4.]])  # the whole map -> 2x2 bins of 2x2 pixels
    out = RoIAlign(output_size=2, spatial_scale=1.0, sampling_ratio=2, aligned=True)(feat, rois)
    # aligned: samples at pixel centres 0,1 and 2,3, so each bin is the mean of its 4 pixels
    expected = torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]])
    torch.testing.assert_close(out, expected)


def test_compiled_nms_on_cpu():
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    torch.testing.assert_close(dets[:, 4], torch.tensor([0.9, 0.7]))
