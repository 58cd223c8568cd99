// Signs a person in through the provider of provider.mjs: a client-credentials access
// token (a JWT for `cppcc-api`), an account linked to its subject by the administrator,
// then GET /api/v1/me with the token. Exits non-zero unless the service takes the token's
// subject to be that account, authenticated by OpenID Connect.
//
//   node tools/oidc-provider/check.mjs SERVICE_URL ADMIN_TOKEN PROVIDER_PORT
const [service, adminToken, port] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

async function call(path, { token = adminToken, ...init } = {}) {
    const response = await fetch(`${service}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...init.headers },
    });
    const body = await response.json();
    return { status: response.status, body };
}
function expect(ok, what, detail) {
    if (!ok) {
        console.error(`oidc check FAILED: ${what}`, detail ?? "");
        process.exit(1);
    }
}

const granted = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
        Authorization: `Basic ${Buffer.from("district-app:district-app-secret").toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "api", resource: "urn:cppcc-api" }),
});
const grant = await granted.json();
expect(granted.status === 200 && grant.access_token?.split(".").length === 3, "a JWT access token", grant);
const claims = JSON.parse(Buffer.from(grant.access_token.split(".")[1], "base64url"));
expect(claims.iss === issuer && claims.aud === "cppcc-api", "the token's issuer and audience", claims);

// Before any account is linked: the provider vouches for the subject, nobody here knows it.
const unknown = await call("/api/v1/me", { token: grant.access_token });
expect(unknown.status === 403 && unknown.body.type === "/problems/unknown-subject", "an unknown subject", unknown);

const made = await call("/api/v1/accounts", {
    method: "POST",
    body: JSON.stringify({ display_name: "区政协审计员", role: "auditor" }),
});
expect(made.status === 201, "the account", made);
const linked = await call(`/api/v1/accounts/${made.body.id}/identities`, {
    method: "PUT",
    headers: { "If-Match": `"${made.body.version}"` },
    body: JSON.stringify({ items: [{ issuer, subject: claims.sub }] }),
});
expect(linked.status === 200, "the link", linked);

const me = await call("/api/v1/me", { token: grant.access_token });
expect(me.status === 200, "GET /me with the token", me);
expect(me.body.role === "auditor" && me.body.key_id === null, "the account's role, no key", me.body);
expect(me.body.account?.id === made.body.id, "the linked account", me.body);
expect(me.body.account?.authenticated_by === "openid_connect" && me.body.account?.issuer === issuer,
    "authenticated by the provider", me.body);
const districts = await call("/api/v1/districts", { token: grant.access_token });
expect(districts.status === 200, "an auditor reads", districts);
console.log(`oidc check: ok (${claims.sub} of ${issuer}, ${JSON.parse(Buffer.from(grant.access_token.split(".")[0], "base64url")).alg})`);
