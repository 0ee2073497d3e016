// Agent::AllocMem / FreeMem: memory from the backend that moves it fastest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

TEST(AllocMemTest, WithoutBackendsDramIsPageAlignedSystemMemory) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  void* p = nullptr;
  FERRY_ASSERT_OK(agent->AllocMem(MemKind::kDram, 10000, 0, &p));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  EXPECT_EQ(static_cast<uint8_t*>(p)[9999], 0);
  FERRY_EXPECT_OK(agent->FreeMem(p));
  EXPECT_EQ(agent->FreeMem(p).code(), Code::kNotFound) << "a second free is refused";
  int x = 0;
  EXPECT_EQ(agent->FreeMem(&x).code(), Code::kNotFound);
  EXPECT_EQ(agent->AllocMem(MemKind::kDram, 0, 0, &p).code(), Code::kInvalidArgument);
  EXPECT_EQ(agent->AllocMem(MemKind::kVram, 4096, 0, &p).code(), Code::kUnsupported);
}

TEST(AllocMemTest, TheFirstBackendThatAllocatesTheKindHandsItOut) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId dbl, posix;
  FERRY_ASSERT_OK(agent->CreateBackend("TESTDOUBLE", {}, &dbl));
  FERRY_ASSERT_OK(agent->CreateBackend(test::kPosix, test::EngineParams("threads"), &posix));
  void* p = nullptr;
  FERRY_ASSERT_OK(agent->AllocMem(MemKind::kDram, 8192, 0, &p));
  EXPECT_EQ(static_cast<uint8_t*>(p)[100], 0xAB) << "the test double fills its memory";
  void* q = nullptr;
  FERRY_ASSERT_OK(agent->AllocMem(MemKind::kDram, 8192, 0, &q, posix));
  EXPECT_EQ(static_cast<uint8_t*>(q)[100], 0) << "POSIX maps fresh zeroed pages";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % 4096, 0u);
  // Memory from a backend moves like any other once registered.
  RegHandle h;
  FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kDram, DramDesc(q, 8192), &h));
  FERRY_EXPECT_OK(agent->FreeMem(p));
  FERRY_EXPECT_OK(agent->DeregisterMem(h));
  FERRY_EXPECT_OK(agent->FreeMem(q));
  EXPECT_EQ(agent->AllocMem(MemKind::kFile, 4096, 0, &p, posix).code(), Code::kUnsupported);
}

TEST(AllocMemTest, AllocationOutlivesItsDestroyedBackendAndTheAgentFreesLeftovers) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId posix;
  FERRY_ASSERT_OK(agent->CreateBackend(test::kPosix, test::EngineParams("threads"), &posix));
  void* p = nullptr;
  FERRY_ASSERT_OK(agent->AllocMem(MemKind::kDram, 1 << 20, 0, &p));
  FERRY_ASSERT_OK(agent->DestroyBackend(posix));
  static_cast<uint8_t*>(p)[(1 << 20) - 1] = 7;  // still mapped
  void* q = nullptr;
  FERRY_ASSERT_OK(agent->AllocMem(MemKind::kDram, 4096, 0, &q));  // the system's now
  FERRY_EXPECT_OK(agent->FreeMem(p));
  agent.reset();  // q is freed with the agent (ASan would report a leak otherwise)
}

}  // namespace
}  // namespace ferry
