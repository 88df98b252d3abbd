// Tensor = shape + dtype + layout + shared storage. Shape is always logical: a 4-D tensor
// is [N, C, H, W] whatever its layout, and the layout only says how memory is ordered
// (the convention of cuDNN's tensor descriptors).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dtype.h"

namespace cr {

using Shape = std::vector<int64_t>;

enum class DeviceType : int { CPU = 0, CUDA = 1 };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index); }
};

// Largest element count a tensor may have: far above any real model, far below size_t
// overflow, so products of validated sizes cannot wrap.
constexpr int64_t kMaxElements = int64_t{1} << 36;
constexpr int kMaxRank = 6;

// A block of memory owned by one backend; `release` gives it back (free, or the CUDA
// caching allocator's pool).
class Storage {
 public:
  Storage(void* ptr, size_t bytes, Device device, std::function<void(void*, size_t)> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* ptr() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* ptr_;
  size_t bytes_;
  Device device_;
  std::function<void(void*, size_t)> release_;
};

struct Tensor {
  Shape shape;
  DType dtype = DType::F32;
  Layout layout = Layout::NCHW;
  std::shared_ptr<Storage> storage;
  size_t offset_bytes = 0;  // views (reshape) share storage

  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int rank() const { return static_cast<int>(shape.size()); }
  Device device() const { return storage ? storage->device() : Device{}; }
  bool defined() const { return static_cast<bool>(storage); }
  void* raw() const { return static_cast<char*>(storage->ptr()) + offset_bytes; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(raw());
  }
  int64_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
  // "[128, 16, 32, 32] float32 NCHW cuda:0", for error messages.
  std::string describe() const;
};

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

// Process-wide counters of live storages, for leak tests and memoryStats().
struct StorageCounters {
  std::atomic<int64_t> count{0};
  std::atomic<int64_t> bytes{0};
};
StorageCounters& storage_counters(DeviceType t);

}  // namespace cr
