//! Protocol buffer messages: Hadoop's (field numbers and names as Hadoop's own `.proto`
//! files) and Spindle's driver/executor protocol. Generated code stays inside this crate.
