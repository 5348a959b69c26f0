"""Writes a large multi-frame Enhanced CT instance for bench/deid (explicit VR little endian, uncompressed).

Usage: make_large.py PATH MEGABYTES [INDEX]

512 x 512 x 16-bit frames (0.5 MiB each) until the pixel data reaches MEGABYTES MiB, with a patient, study and
a few identifying attributes in front (what a de-identifier rewrites) and no PHI in the pixels. The pixel data is
streamed to the file in chunks, so a 2 GiB file needs no 2 GiB of memory: the header is written by pydicom with a
placeholder Pixel Data element whose length is then set, and the frames appended.
"""

import io
import os
import struct
import sys

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset

ROOT = "1.2.826.0.1.3680043.10.54321.77."
FRAME = 512 * 512 * 2


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    path, mb = argv[1], int(argv[2])
    idx = int(argv[3]) if len(argv) == 4 else 0
    frames = max(1, mb * 1024 * 1024 // FRAME)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
    ds.SOPInstanceUID = f"{ROOT}{idx}.1"
    ds.StudyInstanceUID = f"{ROOT}{idx}.2"
    ds.SeriesInstanceUID = f"{ROOT}{idx}.3"
    ds.FrameOfReferenceUID = f"{ROOT}{idx}.4"
    ds.PatientName = f"BENCH^LARGE{idx}"
    ds.PatientID = f"BENCHPID{idx}"
    ds.PatientBirthDate = "19700101"
    ds.StudyDate = "20200101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = f"ACC{idx}"
    ds.InstitutionName = "BENCH HOSPITAL"
    ds.ReferringPhysicianName = "BENCH^DOCTOR"
    ds.Modality = "CT"
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = frames
    ds.Rows = ds.Columns = 512
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.preamble = bytes(128)
    head = io.BytesIO()
    pydicom.dcmwrite(head, ds, write_like_original=False)
    frame = (bytes(range(256)) * (FRAME // 256))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(head.getvalue())
        # (7FE0,0010) OW, reserved 2 bytes, 4-byte length
        f.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, frames * FRAME))
        for _ in range(frames):
            f.write(frame)
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
