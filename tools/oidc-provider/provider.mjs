// A certified OpenID provider (the npm package oidc-provider) on 127.0.0.1:PORT that issues
// JWT access tokens for cppcc-api (audience `cppcc-api`), signed with the ES256 key it
// makes at start. One client, `district-app`, gets them by the client-credentials grant
// (its tokens' subject is the client id).
//
//   node tools/oidc-provider/provider.mjs PORT
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const key = { ...privateKey.export({ format: "jwk" }), kid: "ci-es256", alg: "ES256", use: "sig" };

const provider = new Provider(issuer, {
    jwks: { keys: [key] },
    clients: [{
        client_id: "district-app",
        client_secret: "district-app-secret",
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: "ES256",
    }],
    features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
            enabled: true,
            defaultResource: () => "urn:cppcc-api",
            useGrantedResource: () => true,
            getResourceServerInfo: () => ({
                scope: "api",
                audience: "cppcc-api",
                accessTokenTTL: 600,
                accessTokenFormat: "jwt",
                jwt: { sign: { alg: "ES256" } },
            }),
        },
    },
});
provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider: ${issuer}`));
