#include "cufile_driver.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include <unistd.h>

#include "device_memory.h"

namespace ferry::gds {

Status OpenCufileDriver() {
  static std::mutex mu;
  static bool open = false;
  std::lock_guard lk(mu);
  if (open) return Status::Ok();
  std::string why;
  if (cuda::DeviceCount(&why) == 0) return Unsupported("cuFile needs a CUDA GPU: " + why);
  CUfileError_t e = cuFileDriverOpen();
  if (e.err != CU_FILE_SUCCESS && e.err != CU_FILE_DRIVER_ALREADY_OPEN)
    return CufileStatus(e, "cuFileDriverOpen");
  open = true;
  return Status::Ok();
}

bool CufileCompatMode() {
  bool forced = false;
  if (cuFileGetParameterBool(CUFILE_PARAM_FORCE_COMPAT_MODE, &forced).err == CU_FILE_SUCCESS &&
      forced)
    return true;
  return ::access("/proc/driver/nvidia-fs/version", F_OK) != 0;
}

std::string CufileErrorText(int err) {
  err = std::abs(err);
  if (err > CUFILEOP_BASE_ERR)
    return std::string(CUFILE_ERRSTR(err)) + " (cuFile " + std::to_string(err) + ")";
  return std::strerror(err);
}

std::string CufileOwnErrorText(int err) {
  return std::abs(err) > CUFILEOP_BASE_ERR ? CufileErrorText(err) : std::string();
}

Status CufileStatus(const CUfileError_t& e, std::string_view what) {
  std::string m = std::string(what) + ": " + CufileErrorText(int(e.err));
  if (e.err == CU_FILE_CUDA_DRIVER_ERROR)
    m += ", CUDA driver error " + std::to_string(int(e.cu_err));
  switch (e.err) {
    case CU_FILE_PLATFORM_NOT_SUPPORTED:
    case CU_FILE_IO_NOT_SUPPORTED:
    case CU_FILE_DEVICE_NOT_SUPPORTED:
    case CU_FILE_DRIVER_NOT_INITIALIZED:
    case CU_FILE_INVALID_FILE_TYPE:
    case CU_FILE_IO_DISABLED:
      return Unsupported(m);
    case CU_FILE_CUDA_POINTER_INVALID:
    case CU_FILE_CUDA_MEMORY_TYPE_INVALID:
    case CU_FILE_CUDA_POINTER_RANGE_ERROR:
    case CU_FILE_INVALID_VALUE:
    case CU_FILE_INVALID_FILE_OPEN_FLAG:
      return InvalidArgument(m);
    case CU_FILE_PERMISSION_DENIED:
      return {Code::kPermissionDenied, m};
    case CU_FILE_NOMEM_ERROR:
    case CU_FILE_GPU_MEMORY_PINNING_FAILED:
      return {Code::kNoSpace, m};
    default:
      return IoError(m);
  }
}

}  // namespace ferry::gds
