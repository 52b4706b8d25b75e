// The official OpenAI SDK against filterd's /v1/moderations (SPEC §5).
// usage: node moderations.mjs BASE_URL API_KEY TEXT...
// Prints one JSON line: [{"flagged":B,"decision":D,"keys":[true keys]}...]
// and exits 0, or prints the SDK's error and exits 1.
import OpenAI from 'openai';

const [baseURL, apiKey, ...inputs] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10000 });
try {
  const r = await client.moderations.create({ model: 'omni-moderation-latest', input: inputs });
  const out = r.results.map((x) => ({
    flagged: x.flagged,
    decision: x.filterd && x.filterd.decision,
    keys: Object.keys(x.categories).filter((k) => x.categories[k]),
    nkeys: Object.keys(x.category_scores).length,
  }));
  console.log(JSON.stringify({ id: r.id, model: r.model, results: out }));
} catch (e) {
  console.error(`openai: ${e.constructor.name}: ${e.message}`);
  process.exit(1);
}
