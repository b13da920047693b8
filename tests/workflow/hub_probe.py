"""Load model specs the way the workflow does, in a fresh process whose environment (HF_HOME,
HF_HUB_OFFLINE, HF_TOKEN) is the test's: huggingface_hub reads it once, at import.

    python hub_probe.py [--fake-hub] SPEC[:WHAT] ...

WHAT is ``tokenizer`` (default: :func:`hetpref.lm.data.tokenization.load_tokenizer`), ``config``
(:func:`hetpref.lm.hub.check_model_config`) or ``stage`` (:func:`hetpref.lm.data.stage.stage_model`,
its record under ``record``). With ``--fake-hub`` a local HTTP server stands in
for huggingface.co (HF_ENDPOINT): ids under ``gated/`` answer 401 GatedRepo, every other id 404
RepoNotFound, as the real hub does. Prints one JSON object: per spec ``ok``, the exception type and
message, the paths the fake hub was asked for and the Authorization headers it received.
"""
import http.server
import json
import os
import sys
import threading

REQUESTS = []


class FakeHub(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        REQUESTS.append((self.path, self.headers.get("Authorization")))
        gated = "/gated/" in self.path
        body = json.dumps({"error": "Access restricted" if gated else "Repository not found"}).encode()
        self.send_response(401 if gated else 404)
        self.send_header("X-Error-Code", "GatedRepo" if gated else "RepoNotFound")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, *args):
        pass


def main(argv):
    if argv and argv[0] == "--fake-hub":
        argv = argv[1:]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{server.server_address[1]}"
    import hetpref.lm.hub as hub
    from hetpref.lm.data.stage import stage_model
    from hetpref.lm.data.tokenization import load_tokenizer

    out = {}
    for arg in argv:
        spec, _, what = arg.partition(":")
        start = len(REQUESTS)
        try:
            if what == "config":
                hub.check_model_config(spec)
                out[arg] = {"ok": True}
            elif what == "stage":
                out[arg] = {"ok": True, "record": stage_model(spec)}
            else:
                load_tokenizer(spec)
                out[arg] = {"ok": True}
        except Exception as e:  # reported to the test, which asserts on type and message
            out[arg] = {"ok": False, "type": type(e).__name__, "message": str(e)}
        out[arg]["requests"] = [path for path, _ in REQUESTS[start:] if "agent-harnesses" not in path]
        out[arg]["authorization"] = sorted({auth or "" for path, auth in REQUESTS[start:]
                                            if "agent-harnesses" not in path})
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
