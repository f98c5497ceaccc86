#include "grpc_process.h"

#include <absl/synchronization/mutex.h>

namespace postern {

void grpcProcessInit() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace postern
