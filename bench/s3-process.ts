/** The test helpers' S3 stand-in in a process of its own; prints `{"endpoint","bucket"}` when ready. */
import { startS3Server } from "../test/helpers/s3-server.js";

const s3 = await startS3Server({ bucket: "strongbox-bench" });
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint, bucket: s3.bucket })}\n`);
process.once("SIGTERM", () => void s3.stop().then(() => process.exit(0)));
