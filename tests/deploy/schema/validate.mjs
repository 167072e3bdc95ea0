// Validates every document of the YAML files named on the command line against the schemas of
// kubernetes-models (core and apps APIs) and @kubernetes-models/prometheus-operator
// (monitoring.coreos.com): one "ok KIND NAME" or "FAIL KIND NAME: why" line per document; exit 1
// if any failed or has an apiVersion/kind the packages do not know.
import fs from "node:fs";
import * as yaml from "js-yaml";

let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    if (doc == null) continue;
    const name = `${doc.kind} ${doc.metadata?.name ?? "?"}`;
    const group = doc.apiVersion?.includes("/") ? doc.apiVersion.split("/")[0] : "";
    const module = group === "monitoring.coreos.com"
      ? `@kubernetes-models/prometheus-operator/${doc.apiVersion}`
      : `kubernetes-models/${doc.apiVersion}`;
    try {
      const Model = (await import(module))[doc.kind];
      if (Model === undefined) throw new Error(`no kind ${doc.kind} in ${doc.apiVersion}`);
      new Model(doc).validate();
      console.log(`ok ${name}`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.message}`);
      failed++;
    }
  }
}
process.exit(failed > 0 ? 1 : 0);
