#include "dicom/pdu_stream.h"

#include "dicom/pdu.h"

namespace dg::dicom::pdu {

bool StreamReader::next(std::vector<std::uint8_t>& out) {
  if (!error_.empty()) return false;
  const std::size_t avail = buf_.size() - pos_;
  if (avail < 6) return false;
  std::string err;
  auto total = total_length({buf_.data() + pos_, 6}, err);
  if (!total) {
    error_ = err;
    return false;
  }
  if (avail < *total) return false;
  out.assign(buf_.begin() + static_cast<long>(pos_), buf_.begin() + static_cast<long>(pos_ + *total));
  pos_ += *total;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 16)) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(pos_));
    pos_ = 0;
  }
  return true;
}

}  // namespace dg::dicom::pdu
