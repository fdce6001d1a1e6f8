#include "fa_host/cl.h"

#include <vector>

namespace fa {

const char* cl_error_name(cl_int code) {
    switch (code) {
#define FA_CL_NAME(x) case x: return #x;
        FA_CL_NAME(CL_SUCCESS)
        FA_CL_NAME(CL_DEVICE_NOT_FOUND)
        FA_CL_NAME(CL_DEVICE_NOT_AVAILABLE)
        FA_CL_NAME(CL_COMPILER_NOT_AVAILABLE)
        FA_CL_NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        FA_CL_NAME(CL_OUT_OF_RESOURCES)
        FA_CL_NAME(CL_OUT_OF_HOST_MEMORY)
        FA_CL_NAME(CL_PROFILING_INFO_NOT_AVAILABLE)
        FA_CL_NAME(CL_MEM_COPY_OVERLAP)
        FA_CL_NAME(CL_IMAGE_FORMAT_MISMATCH)
        FA_CL_NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        FA_CL_NAME(CL_BUILD_PROGRAM_FAILURE)
        FA_CL_NAME(CL_MAP_FAILURE)
        FA_CL_NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        FA_CL_NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        FA_CL_NAME(CL_COMPILE_PROGRAM_FAILURE)
        FA_CL_NAME(CL_LINKER_NOT_AVAILABLE)
        FA_CL_NAME(CL_LINK_PROGRAM_FAILURE)
        FA_CL_NAME(CL_DEVICE_PARTITION_FAILED)
        FA_CL_NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        FA_CL_NAME(CL_INVALID_VALUE)
        FA_CL_NAME(CL_INVALID_DEVICE_TYPE)
        FA_CL_NAME(CL_INVALID_PLATFORM)
        FA_CL_NAME(CL_INVALID_DEVICE)
        FA_CL_NAME(CL_INVALID_CONTEXT)
        FA_CL_NAME(CL_INVALID_QUEUE_PROPERTIES)
        FA_CL_NAME(CL_INVALID_COMMAND_QUEUE)
        FA_CL_NAME(CL_INVALID_HOST_PTR)
        FA_CL_NAME(CL_INVALID_MEM_OBJECT)
        FA_CL_NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        FA_CL_NAME(CL_INVALID_IMAGE_SIZE)
        FA_CL_NAME(CL_INVALID_SAMPLER)
        FA_CL_NAME(CL_INVALID_BINARY)
        FA_CL_NAME(CL_INVALID_BUILD_OPTIONS)
        FA_CL_NAME(CL_INVALID_PROGRAM)
        FA_CL_NAME(CL_INVALID_PROGRAM_EXECUTABLE)
        FA_CL_NAME(CL_INVALID_KERNEL_NAME)
        FA_CL_NAME(CL_INVALID_KERNEL_DEFINITION)
        FA_CL_NAME(CL_INVALID_KERNEL)
        FA_CL_NAME(CL_INVALID_ARG_INDEX)
        FA_CL_NAME(CL_INVALID_ARG_VALUE)
        FA_CL_NAME(CL_INVALID_ARG_SIZE)
        FA_CL_NAME(CL_INVALID_KERNEL_ARGS)
        FA_CL_NAME(CL_INVALID_WORK_DIMENSION)
        FA_CL_NAME(CL_INVALID_WORK_GROUP_SIZE)
        FA_CL_NAME(CL_INVALID_WORK_ITEM_SIZE)
        FA_CL_NAME(CL_INVALID_GLOBAL_OFFSET)
        FA_CL_NAME(CL_INVALID_EVENT_WAIT_LIST)
        FA_CL_NAME(CL_INVALID_EVENT)
        FA_CL_NAME(CL_INVALID_OPERATION)
        FA_CL_NAME(CL_INVALID_GL_OBJECT)
        FA_CL_NAME(CL_INVALID_BUFFER_SIZE)
        FA_CL_NAME(CL_INVALID_MIP_LEVEL)
        FA_CL_NAME(CL_INVALID_GLOBAL_WORK_SIZE)
        FA_CL_NAME(CL_INVALID_PROPERTY)
        FA_CL_NAME(CL_INVALID_IMAGE_DESCRIPTOR)
        FA_CL_NAME(CL_INVALID_COMPILER_OPTIONS)
        FA_CL_NAME(CL_INVALID_LINKER_OPTIONS)
        FA_CL_NAME(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef FA_CL_NAME
        case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";  // the ICD loader found no platform
        default: return nullptr;
    }
}

static std::string name_of(cl_int code) {
    const char* n = cl_error_name(code);
    return n ? n : "CL error " + std::to_string(code);
}

ClError::ClError(const std::string& what, cl_int code)
    : std::runtime_error(what + " failed: " + name_of(code) + " (" + std::to_string(code) + ")"), code_(code) {}

std::string platform_info(cl_platform_id p, cl_platform_info what) {
    size_t n = 0;
    check(clGetPlatformInfo(p, what, 0, nullptr, &n), "clGetPlatformInfo");
    std::vector<char> buf(n + 1, '\0');
    check(clGetPlatformInfo(p, what, n, buf.data(), nullptr), "clGetPlatformInfo");
    return std::string(buf.data());
}

std::string device_info(cl_device_id d, cl_device_info what) {
    size_t n = 0;
    check(clGetDeviceInfo(d, what, 0, nullptr, &n), "clGetDeviceInfo");
    std::vector<char> buf(n + 1, '\0');
    check(clGetDeviceInfo(d, what, n, buf.data(), nullptr), "clGetDeviceInfo");
    return std::string(buf.data());
}

std::string build_log(cl_program program, cl_device_id device) {
    size_t n = 0;
    if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS) return "";
    std::vector<char> buf(n + 1, '\0');
    if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, n, buf.data(), nullptr) != CL_SUCCESS) return "";
    return std::string(buf.data());
}

}  // namespace fa
