// WorkQueue: one mutex guards everything; delayed adds are moved into the queue by get()
// and size() once due, so no thread of its own is needed.
#include "kube/workqueue.h"

#include <algorithm>
#include <cmath>

namespace governor::kube {

WorkQueue::WorkQueue(WorkQueueOptions options)
    : options_(std::move(options)), bucket_(options_.qps, options_.burst, options_.clock) {}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  addLocked(key);
}

void WorkQueue::addAfter(const std::string& key, Duration delay) {
  std::lock_guard lock(mutex_);
  addAfterLocked(key, delay);
}

WorkQueue::Duration WorkQueue::addRateLimited(const std::string& key) {
  std::lock_guard lock(mutex_);
  const Duration delay = std::max<Duration>(backoff(key), bucket_.reserve());
  addAfterLocked(key, delay);
  return delay;
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

int WorkQueue::numRequeues(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto found = failures_.find(key);
  return found == failures_.end() ? 0 : found->second;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  while (true) {
    addDue();
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (shuttingDown_) return std::nullopt;
    if (waiting_.empty()) {
      ready_.wait(lock);
    } else {
      ready_.wait_for(lock, waiting_.begin()->first - options_.clock());
    }
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (processing_.erase(key) == 0 || !dirty_.contains(key)) return;
  queue_.push_back(key);
  ready_.notify_one();
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mutex_);
  shuttingDown_ = true;
  waiting_.clear();
  deadlines_.clear();
  ready_.notify_all();
}

std::size_t WorkQueue::size() {
  std::lock_guard lock(mutex_);
  addDue();
  return queue_.size();
}

void WorkQueue::addLocked(const std::string& key) {
  if (shuttingDown_ || !dirty_.insert(key).second || processing_.contains(key)) return;
  queue_.push_back(key);
  ready_.notify_one();
}

void WorkQueue::addAfterLocked(const std::string& key, Duration delay) {
  if (shuttingDown_) return;
  if (delay <= Duration::zero()) {
    addLocked(key);
    return;
  }
  const TimePoint deadline = options_.clock() + delay;
  const auto [found, added] = deadlines_.try_emplace(key, deadline);
  if (!added) {
    if (found->second <= deadline) return;
    waiting_.erase({found->second, key});
    found->second = deadline;
  }
  waiting_.emplace(deadline, key);
  ready_.notify_all();  // every blocked get() recomputes how long to wait
}

void WorkQueue::addDue() {
  const TimePoint now = options_.clock();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    const std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    deadlines_.erase(key);
    addLocked(key);
  }
}

WorkQueue::Duration WorkQueue::backoff(const std::string& key) {
  const int exponent = failures_[key]++;
  const double delay = std::ldexp(static_cast<double>(options_.baseDelay.count()), exponent);
  if (delay >= static_cast<double>(options_.maxDelay.count())) return options_.maxDelay;
  return Duration(static_cast<Duration::rep>(delay));
}

}  // namespace governor::kube
