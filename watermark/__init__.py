"""Signal layer: a robust, keyed, invisible watermark for video.

Knows nothing of C2PA; the identifier it carries is 64 opaque bits.
"""

from watermark.detect import (Detection, Detector, EvidenceStream, FrameEvidence, Mark, Span, detect, detect_file)
from watermark.embed import EmbedResult, embed, embed_file, embed_frames, marker
from watermark.errors import EncoderError, IdentifierError, KeyFileError, VideoError, WatermarkError
from watermark.keys import DEFAULT_KEY, Key
from watermark.payload import format_identifier, parse_identifier
from watermark.remark import MarkedError
from watermark.video import DroppedStreamWarning, EncoderSettings, Picture, VideoInfo, probe, transcode

__all__ = [
    "DEFAULT_KEY", "Detection", "Detector", "DroppedStreamWarning", "EvidenceStream", "FrameEvidence", "EmbedResult", "EncoderError",
    "EncoderSettings", "IdentifierError", "Key", "KeyFileError", "Mark", "MarkedError", "Picture", "Span", "VideoError",
    "VideoInfo", "WatermarkError",
    "detect", "detect_file", "embed", "embed_file", "embed_frames", "format_identifier", "marker",
    "parse_identifier", "probe", "transcode",
]
