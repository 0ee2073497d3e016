// A CompletionQueue::Wait that drove a backend may hold its last reference. Dropping it
// must not leave the queue pointing at the dying backend: a completion of another
// backend's transfer would Kick freed memory.
#include <dlfcn.h>

#include <thread>

#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

int KicksWhileDestroying() {
  // The agent loaded the plugin RTLD_LOCAL; the same path gives the same handle.
  const char* dirs = std::getenv("FERRY_PLUGIN_DIR");
  std::string all = dirs ? dirs : "";
  for (size_t start = 0; start <= all.size();) {
    size_t colon = all.find(':', start);
    if (colon == std::string::npos) colon = all.size();
    std::string path = all.substr(start, colon - start) + "/libferry_plugin_testdouble.so";
    if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
      auto fn = reinterpret_cast<int (*)()>(dlsym(h, "ferry_testdouble_kicks_while_destroying"));
      const int n = fn ? fn() : -1;
      dlclose(h);
      return n;
    }
    start = colon + 1;
  }
  return -2;
}

TEST(CompletionQueueTeardownTest, WaitDropsItsLastBackendReferenceOnlyAfterUnpublishingIt) {
  auto cq = CompletionQueue::Create();
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId a, b;
  FERRY_ASSERT_OK(agent->CreateBackend("TESTDOUBLE",
                                       {{"drive", "true"},
                                        {"drive_linger_ms", "300"},
                                        {"destroy_delay_ms", "400"},
                                        {"complete_delay_ms", "60000"}},
                                       &a));
  FERRY_ASSERT_OK(agent->CreateBackend("TESTDOUBLE", {{"complete_delay_ms", "350"}}, &b));
  char mem[64] = {};
  RegHandle h;
  FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kDram, DramDesc(mem, sizeof mem), &h));
  MemDescList objs{MemKind::kObj, {ObjectKey("o")}};
  objs.descs[0].len = 64;
  FERRY_ASSERT_OK(agent->RegisterMem(objs, &h));
  auto make = [&](BackendId be, uint64_t tag, std::unique_ptr<Transfer>* x) {
    XferOptions o;
    o.backend = be;
    o.completion_queue = cq;
    o.tag = tag;
    return agent->CreateTransfer(XferOp::kWrite, {MemKind::kDram, {test::Dram(mem, 64)}},
                                 {MemKind::kObj, {{0, 64, 0}}}, "", x, o);
  };
  std::unique_ptr<Transfer> xa, xb;
  FERRY_ASSERT_OK(make(a, 1, &xa));
  FERRY_ASSERT_OK(make(b, 2, &xb));
  FERRY_ASSERT_OK(xa->Post());

  std::vector<uint64_t> tags;
  std::thread waiter([&] { cq->Wait(&tags, std::chrono::seconds(10), 1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the waiter drives A now
  FERRY_ASSERT_OK(xb->Post());  // completes ~350 ms from now, while A is being destroyed
  xa.reset();                   // cancelled: tag 1 is queued
  agent.reset();                // only the waiter's reference keeps A now
  waiter.join();
  ASSERT_EQ(tags, std::vector<uint64_t>{1});
  FERRY_EXPECT_OK(xb->Wait(test::kWaitLimit));
  EXPECT_EQ(KicksWhileDestroying(), 0) << "a completion kicked a backend being destroyed";
}

}  // namespace
}  // namespace ferry
