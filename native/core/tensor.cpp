#include "tensor.h"

namespace cr {

StorageCounters& storage_counters(DeviceType t) {
  static StorageCounters cpu, cuda;
  return t == DeviceType::CPU ? cpu : cuda;
}

Storage::Storage(void* ptr, size_t bytes, Device device, std::function<void(void*, size_t)> release)
    : ptr_(ptr), bytes_(bytes), device_(device), release_(std::move(release)) {
  auto& c = storage_counters(device_.type);
  c.count++;
  c.bytes += static_cast<int64_t>(bytes_);
}

Storage::~Storage() {
  auto& c = storage_counters(device_.type);
  c.count--;
  c.bytes -= static_cast<int64_t>(bytes_);
  if (release_) release_(ptr_, bytes_);
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

int64_t Tensor::numel() const { return shape_numel(shape); }

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); i++) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::string Tensor::describe() const {
  std::string out = shape_str(shape) + " " + dtype_name(dtype);
  if (rank() == 4) out += std::string(" ") + layout_name(layout);
  return out + " " + device().str();
}

}  // namespace cr
