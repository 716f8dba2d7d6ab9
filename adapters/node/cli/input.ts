/** Reading secrets from stdin: a hidden prompt on a terminal, a line or everything otherwise. */
import { CliError, type CliIO, EXIT_LOCAL_ERROR } from "./command.js";

const CTRL_C = "\u0003";
const CTRL_D = "\u0004";
const BACKSPACES = new Set(["\u007f", "\b"]);

/** On a terminal: prompt (on stderr, keeping stdout clean) and read without echo. Else: the first line of stdin. */
export async function readSecret(io: CliIO, prompt: string): Promise<string> {
  const { stdin } = io;
  if (!stdin.isTTY || !stdin.setRawMode) return readLine(stdin);

  io.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = "";
      const onData = (chunk: string) => {
        for (const char of chunk) {
          if (char === "\r" || char === "\n" || char === CTRL_D) return finish(() => resolve(typed));
          if (char === CTRL_C) return finish(() => reject(new CliError("interrupted", EXIT_LOCAL_ERROR)));
          typed = BACKSPACES.has(char) ? typed.slice(0, -1) : typed + char;
        }
      };
      const finish = (settle: () => void) => {
        stdin.off("data", onData);
        settle();
      };
      stdin.on("data", onData);
      stdin.resume();
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    io.stderr.write("\n");
  }
}

/** The first line of a stream (without its line ending). */
export async function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) {
    text += chunk.toString();
    const newline = text.indexOf("\n");
    if (newline !== -1) return text.slice(0, newline).replace(/\r$/, "");
  }
  return text;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}
