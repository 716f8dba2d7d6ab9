/** The S3 stand-in lives with the local cluster, which runs it on a folder; tests run it in memory. */
export { type RunningS3Server, type S3ServerOptions, startS3Server } from "../../tools/local-cluster/s3-server.js";
