//! The `spindle` client: checks a request, stages the application to HDFS and submits
//! its application master to YARN. Submission arrives with the end-to-end issue.
