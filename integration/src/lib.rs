//! Real-cluster test harness.
