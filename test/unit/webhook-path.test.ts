import assert from "node:assert/strict";
import { InvalidPathError, normalisePath } from "../../nodes/common/webhook-route";

describe("normalisePath", () => {
  it("adds one leading slash and drops trailing ones", () => {
    assert.equal(normalisePath("zoom/presence"), "/zoom/presence");
    assert.equal(normalisePath(" //zoom/presence// "), "/zoom/presence");
    assert.equal(normalisePath("/a-b_c.d~e"), "/a-b_c.d~e");
  });

  it("rejects Express patterns and empty paths", () => {
    for (const path of ["/zoom/:user", "/zoom/*", "/zoom/(a)", "/zoom?x=1", "/", "", "/zoom presence", "/zoom/%2e"]) {
      assert.throws(() => normalisePath(path), (error: unknown) => error instanceof InvalidPathError && error.path === path, path);
    }
  });
});
