// Renders chat-template cases with @huggingface/jinja (the implementation transformers.js uses), for the
// differential tests of the C# interpreter (tests/Platform.Inference.Tests/Chat/Jinja).
// Input (a file path argument, or stdin): [{ "id": "...", "template": "...", "context": { ... } }, ...]
// Output (stdout): [{ "id": "...", "output": "..." } or { "id": "...", "error": "..." }, ...]
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const input = readFileSync(process.argv[2] ?? 0, "utf8");
const cases = JSON.parse(input);
const results = cases.map(({ id, template, context }) => {
  let parsed;
  try {
    parsed = new Template(template);
  } catch (e) {
    return { id, error: `parse: ${e.message}` };
  }
  try {
    return { id, output: parsed.render(context) };
  } catch (e) {
    return { id, error: `render: ${e.message}` };
  }
});
process.stdout.write(JSON.stringify(results));
