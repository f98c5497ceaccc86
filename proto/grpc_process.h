#pragma once
// Process-wide settings for every process that talks gRPC (stored, master,
// the workers); call first in main(), before any thread starts.
namespace postern {

// Debian's abseil (which gRPC's mutexes are built on) runs with mutex
// deadlock detection on: every lock records lock-order edges in a global
// graph (GraphCycles), ~3 % of all CPU under load in the bench's mixed
// workload. It is a debugging aid; it is switched off here.
void grpcProcessInit();

}  // namespace postern
