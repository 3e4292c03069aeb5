// Every test program's main: GoogleTest's, with SIGPIPE ignored once as each of Governor's
// mains ignores it (kube/signals.h), so that a peer closing a connection mid-write is an error
// in the test, not its end.
#include <gtest/gtest.h>

#include "kube/signals.h"

int main(int argc, char** argv) {
  governor::kube::ignoreSigpipe();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
