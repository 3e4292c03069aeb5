// The operator speaks the ServiceLevel API's terms (api/servicelevel.h) unqualified.
#pragma once

#include "api/servicelevel.h"

namespace governor::op {

using api::Alerting;
using api::AlertTier;
using api::Autoscaling;
using api::Availability;
using api::Cache;
using api::childLabels;
using api::Json;
using api::kApiVersion;
using api::kFieldManager;
using api::kKind;
using api::kManagedByLabel;
using api::kManagedByValue;
using api::kPausedAnnotation;
using api::kPausedReplicasAnnotation;
using api::kServiceLevelLabel;
using api::Labels;
using api::LatencyObjective;
using api::LatencyScaling;
using api::Objectives;
using api::ownerReference;
using api::ParseResult;
using api::parseServiceLevel;
using api::Pause;
using api::Percent;
using api::QueueScaling;
using api::Quota;
using api::RedisQueue;
using api::ResourceTarget;
using api::SecretKeyRef;
using api::ServiceLevel;
using api::Workload;

}  // namespace governor::op
