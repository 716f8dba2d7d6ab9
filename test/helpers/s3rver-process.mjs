// The child process behind startS3Server(): s3rver's crashes and warnings stay out of the caller.
// Prints {"port":N} once listening; exits when its stdin closes (the parent went away) or on SIGTERM.
import S3rver from "s3rver";

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
const stop = () => server.close().finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.stdin.on("end", stop).resume();
