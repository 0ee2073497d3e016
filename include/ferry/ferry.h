// Umbrella header: everything a client of the transfer library needs.
#pragma once

#include "ferry/agent.h"
#include "ferry/completion_queue.h"
#include "ferry/memory.h"
#include "ferry/params.h"
#include "ferry/status.h"
#include "ferry/transfer.h"
