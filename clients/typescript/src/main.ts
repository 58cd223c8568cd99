/**
 * What a front end does with cppcc-api, typed only from the committed OpenAPI document:
 * `npm run generate` writes src/schema.d.ts from ../../openapi/openapi.json, and
 * openapi-fetch's createClient<paths>() checks every path, parameter, body and answer
 * against it at compile time.
 *
 *   CPPCC_BASE_URL=http://127.0.0.1:8080 CPPCC_TOKEN=<admin token> node build/main.js
 *
 * Each step asserts what the README and the spec promise and throws on anything else;
 * the first failure stops the run with a non-zero exit. .ci/client runs it against a
 * scratch server.
 *
 * Where the spec is too weak to type a value, the code says so in a comment starting
 * with "SPEC:" (the schema is named there); there is no cast in the whole program.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];
type Member = Schemas["Member"];
type BatchResult = Schemas["BatchResult"];
type ChangeEntry = Schemas["ChangeEntry"];

/** The problem `type`s this program meets (README, "Conventions", Errors). */
const PROBLEM = {
    validation: "/problems/validation",
    preconditionFailed: "/problems/precondition-failed",
    wrongState: "/problems/wrong-state",
} as const satisfies Record<string, Problem["type"]>;

// ---------------------------------------------------------------------------------------
// Checks

class Unexpected extends Error {
    override name = "Unexpected";
}

function check(condition: unknown, what: string): asserts condition {
    if (!condition) throw new Unexpected(what);
}

function show(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

/** The answer of one call of the client, whatever the operation. */
interface Answer<T, E> {
    data?: T;
    error?: E;
    response: Response;
}

/** The body of a successful answer with exactly this status. */
function expectData<T, E>(answer: Answer<T, E>, status: number, what: string): T {
    const got = answer.response.status;
    if (got !== status || answer.data === undefined) {
        throw new Unexpected(`${what}: expected ${status}, got ${got} ${show(answer.error)}`);
    }
    return answer.data;
}

/**
 * A problem+json body, checked at run time: the generated types say what a body should
 * be, this says what arrived (a proxy's HTML page would be typed `Problem` as well).
 */
function isProblem(body: unknown): body is Problem {
    return (
        typeof body === "object" &&
        body !== null &&
        "type" in body &&
        typeof body.type === "string" &&
        "title" in body &&
        typeof body.title === "string" &&
        "status" in body &&
        typeof body.status === "number" &&
        "detail" in body &&
        typeof body.detail === "string"
    );
}

/** An error answer with this status, sent as problem+json, and of this problem `type`. */
function expectProblem<T, E>(answer: Answer<T, E>, status: number, type: string, what: string): Problem {
    const { response, error } = answer;
    const contentType = response.headers.get("Content-Type") ?? "";
    check(
        response.status === status,
        `${what}: expected ${status} ${type}, got ${response.status} ${show(answer.data ?? error)}`,
    );
    check(contentType.startsWith("application/problem+json"), `${what}: problem sent as ${contentType}`);
    check(isProblem(error), `${what}: not problem details: ${show(error)}`);
    check(error.type === type, `${what}: problem type ${error.type}, expected ${type}`);
    check(error.status === status, `${what}: problem says status ${error.status}`);
    return error;
}

/** The `ETag` of an answer, which the README says is the record's version, quoted. */
function etagOf(response: Response, version: number, what: string): string {
    const tag = response.headers.get("ETag");
    check(tag === `"${version}"`, `${what}: ETag ${show(tag)} for version ${version}`);
    return tag;
}

function first<T>(items: readonly T[], what: string): T {
    const item = items[0];
    check(item !== undefined, `${what}: the list is empty`);
    return item;
}

function sameSet(actual: readonly string[], expected: readonly string[]): boolean {
    const a = [...actual].sort();
    const b = [...expected].sort();
    return a.length === b.length && a.every((value, i) => value === b[i]);
}

function requireEnv(name: string): string {
    const value = process.env[name];
    if (value === undefined || value === "") throw new Unexpected(`set ${name}`);
    return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------
// The client

const api = createClient<paths>({
    baseUrl: requireEnv("CPPCC_BASE_URL"),
    headers: { Authorization: `Bearer ${requireEnv("CPPCC_TOKEN")}` },
});

/** What the steps share: each step adds what the later ones need. */
interface World {
    run: string;
    districtId: string;
    sector: string;
    otherSector: string;
    party: string;
    category: string;
    departmentId: string;
    /** The members created one by one, in the filtered sector. */
    memberNos: string[];
    member: Member;
    /** The member's version after the merge patch. */
    patchedVersion: number;
    /** Member numbers pushed by the sync batch: one stays, one is deleted again. */
    syncedKept: string;
    syncedDeleted: string;
}

const world: Partial<World> = {
    run: `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`,
};

function need<K extends keyof World>(key: K): World[K] {
    const value = world[key];
    check(value !== undefined, `an earlier step did not set ${key}`);
    return value;
}

// ---------------------------------------------------------------------------------------
// The steps

async function readControlledLists(): Promise<void> {
    const sectors = expectData(await api.GET("/api/v1/sectors"), 200, "GET /sectors");
    const parties = expectData(await api.GET("/api/v1/parties"), 200, "GET /parties");
    const categories = expectData(await api.GET("/api/v1/proposal-categories"), 200, "GET /proposal-categories");
    check(sectors.items.length >= 2, "fewer than two sectors");
    world.sector = first(sectors.items, "sectors").code;
    world.otherSector = first(sectors.items.slice(1), "sectors after the first").code;
    world.party = first(parties.items, "parties").code;
    world.category = first(categories.items, "proposal categories").code;
}

async function createDistrictAndDepartment(): Promise<void> {
    const code = `ts-${need("run")}`;
    const created = await api.POST("/api/v1/districts", {
        body: { code, name: `TypeScript 测试区 ${need("run")}`, name_en: "TypeScript test district", term: 16 },
    });
    const district = expectData(created, 201, "POST /districts");
    check(district.code === code && district.term === 16, `district as created: ${show(district)}`);
    check(created.response.headers.get("Location") !== null, "POST /districts: no Location");
    etagOf(created.response, district.version, "POST /districts");
    world.districtId = district.id;

    const byCode = await api.GET("/api/v1/districts/{district}", { params: { path: { district: code } } });
    check(expectData(byCode, 200, "GET /districts/{code}").id === district.id, "a district read by its code");

    const department = expectData(
        await api.POST("/api/v1/departments", {
            body: { district_id: district.id, name: "区生态环境局", short_name: "生态环境局", kind: "government" },
        }),
        201,
        "POST /departments",
    );
    check(department.district_id === district.id && department.kind === "government", "department as created");
    world.departmentId = department.id;
}

async function createMembers(): Promise<void> {
    const districtId = need("districtId");
    const memberNos: string[] = [];
    // Five in the sector the list filters by, one in another that the filter leaves out.
    for (let i = 1; i <= 6; i++) {
        const memberNo = `TS-${String(i).padStart(3, "0")}`;
        const created = await api.POST("/api/v1/members", {
            body: {
                district_id: districtId,
                member_no: memberNo,
                name: `测试委员${i}`,
                sector: i <= 5 ? need("sector") : need("otherSector"),
                party: need("party"),
                email: `member${i}@example.cn`,
                roles: ["member"],
            },
        });
        const member = expectData(created, 201, `POST /members ${memberNo}`);
        check(member.member_no === memberNo && member.status === "active", `member as created: ${show(member)}`);
        if (i <= 5) memberNos.push(memberNo);
        world.member ??= member;
    }
    world.memberNos = memberNos;
}

async function pageThroughMembers(): Promise<void> {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
        const page = expectData(
            await api.GET("/api/v1/members", {
                params: {
                    query: {
                        district_id: need("districtId"),
                        sector: need("sector"),
                        sort: "member_no",
                        limit: 2,
                        cursor,
                    },
                },
            }),
            200,
            `GET /members page ${pages + 1}`,
        );
        pages += 1;
        check(page.items.length <= 2, `a page of ${page.items.length} items with limit 2`);
        for (const item of page.items) {
            check(item.sector === need("sector"), `the sector filter let ${item.member_no} (${item.sector}) through`);
            seen.push(item.member_no);
        }
        cursor = page.next_cursor ?? undefined;
        check(pages <= 10, "next_cursor never ends");
    } while (cursor !== undefined);

    check(pages >= 3, `five members in pages of two came in ${pages} pages`);
    check(
        seen.join() === [...need("memberNos")].sort().join(),
        `paged member numbers ${show(seen)}, expected ${show(need("memberNos"))} in order, once each`,
    );
}

async function conditionalReadAndWrite(): Promise<void> {
    const id = need("member").id;
    const read = await api.GET("/api/v1/members/{id}", { params: { path: { id } } });
    const member = expectData(read, 200, "GET /members/{id}");
    const tag = etagOf(read.response, member.version, "GET /members/{id}");

    const again = await api.GET("/api/v1/members/{id}", {
        params: { path: { id }, header: { "If-None-Match": tag } },
    });
    // openapi-fetch types neither `data` nor `error` for a 304 (it is neither 2xx nor an
    // error status); the status is the whole answer.
    check(again.response.status === 304, `If-None-Match of the current tag: ${again.response.status}`);

    const patched = await api.PATCH("/api/v1/members/{id}", {
        params: { path: { id }, header: { "If-Match": tag } },
        // The spec names the body's media type; openapi-fetch sends application/json unless told.
        headers: { "Content-Type": "application/merge-patch+json" },
        body: { street: "金融街街道", employer_title: "区人民医院 院长", email: null },
    });
    const after = expectData(patched, 200, "PATCH /members/{id} with If-Match");
    check(after.version > member.version, `version ${member.version} -> ${after.version}`);
    check(after.street === "金融街街道" && after.email === null, `merge patch not applied: ${show(after)}`);
    check(after.name === member.name && after.phone === member.phone, "merge patch changed absent fields");
    etagOf(patched.response, after.version, "PATCH /members/{id}");
    world.patchedVersion = after.version;

    const stale = await api.PATCH("/api/v1/members/{id}", {
        params: { path: { id }, header: { "If-Match": tag } },
        headers: { "Content-Type": "application/merge-patch+json" },
        body: { street: "月坛街道" },
    });
    expectProblem(stale, 412, PROBLEM.preconditionFailed, "PATCH /members/{id} with a stale If-Match");

    const current = expectData(await api.GET("/api/v1/members/{id}", { params: { path: { id } } }), 200, "GET");
    check(current.street === "金融街街道", "a stale If-Match still wrote");
}

async function proposalWorkflow(): Promise<void> {
    const created = await api.POST("/api/v1/proposals", {
        body: {
            district_id: need("districtId"),
            kind: "member",
            lead_member_id: need("member").id,
            title: "关于加强社区卫生服务中心建设的提案",
            body: "建议区政府加大投入，完善社区卫生服务网络。",
            category: need("category"),
            is_key: false,
        },
    });
    const draft = expectData(created, 201, "POST /proposals");
    check(draft.status === "draft", `a new proposal is ${draft.status}`);
    check(draft.allowed_actions.includes("submit"), `a draft allows ${show(draft.allowed_actions)}`);
    const tag = etagOf(created.response, draft.version, "POST /proposals");

    const submitted = await api.POST("/api/v1/proposals/{id}/submit", {
        params: { path: { id: draft.id }, header: { "If-Match": tag } },
    });
    const proposal = expectData(submitted, 200, "POST /proposals/{id}/submit");
    check(proposal.status === "submitted", `after submit: ${proposal.status}`);
    // What a front end shows as buttons: the workflow is never re-implemented client side.
    const expected = ["file", "merge", "reject", "withdraw"];
    check(
        sameSet(proposal.allowed_actions, expected),
        `a submitted proposal allows ${show(proposal.allowed_actions)}, expected ${show(expected)}`,
    );

    const twice = await api.POST("/api/v1/proposals/{id}/submit", { params: { path: { id: draft.id } } });
    const problem = expectProblem(twice, 409, PROBLEM.wrongState, "submitting a submitted proposal");
    check(problem.current_status === "submitted", `wrong-state names ${show(problem.current_status)}`);
    // SPEC: Problem.allowed_actions is string[] (Problem serves every workflow), so it
    // compares with Proposal.allowed_actions (ProposalAction[]) only as strings.
    check(sameSet(problem.allowed_actions ?? [], proposal.allowed_actions), "wrong-state's allowed_actions");
}

async function validationProblem(): Promise<void> {
    const refused = await api.POST("/api/v1/members", {
        body: {
            district_id: need("districtId"),
            member_no: "not a number!",
            name: " \u200b ",
            sector: "no_such_sector",
            party: need("party"),
        },
    });
    const problem = expectProblem(refused, 422, PROBLEM.validation, "POST /members with three bad fields");
    const errors = problem.errors ?? [];
    for (const error of errors) check(error.detail.length > 0, `an empty detail for ${error.pointer}`);
    const pointers = errors.map((error) => error.pointer);
    check(
        sameSet(pointers, ["/member_no", "/name", "/sector"]),
        `errors[] points at ${show(pointers)}: every invalid field at once`,
    );
}

/** One record of `POST /sync/members`: a member to create or update, or a deletion. */
type SyncMemberRecord = Schemas["MemberBatch"]["records"][number];

function batchOf(records: SyncMemberRecord[]): Schemas["MemberBatch"] {
    return { records };
}

function isBatchResult(body: unknown): body is BatchResult {
    return typeof body === "object" && body !== null && "results" in body && Array.isArray(body.results);
}

async function syncBatch(): Promise<void> {
    const districtId = need("districtId");
    const kept = `SYNC-${need("run")}-1`;
    const deleted = `SYNC-${need("run")}-2`;
    const member = (memberNo: string, name: string): Schemas["SyncedMember"] => ({
        member_no: memberNo,
        name,
        sector: need("sector"),
        party: need("party"),
    });

    // An atomic dry run with a refused record: 422, answered with the results, not a problem.
    const dryRun = await api.POST("/api/v1/sync/members", {
        params: { query: { district_id: districtId, atomic: true, dry_run: true } },
        body: batchOf([member(kept, "同步委员甲"), { ...member("BAD", "乙"), sector: "no_such_sector" }]),
    });
    check(dryRun.response.status === 422, `atomic dry run with a bad record: ${dryRun.response.status}`);
    // SPEC: sync_members' 422 is BatchResult (application/json) or Problem
    // (application/problem+json): the error is a union that only a type guard can split.
    check(isBatchResult(dryRun.error), `atomic dry run: not a batch result: ${show(dryRun.error)}`);
    check(!dryRun.error.applied && dryRun.error.dry_run, "a refused atomic dry run says it applied");
    check(dryRun.error.results[1]?.status === "error", "the bad record is not reported");

    // Two new members and one refused record: 207, the valid ones applied.
    const pushed = await api.POST("/api/v1/sync/members", {
        params: { query: { district_id: districtId } },
        body: batchOf([
            member(kept, "同步委员甲"),
            member(deleted, "同步委员乙"),
            { ...member(`SYNC-${need("run")}-3`, "同步委员丙"), sector: "no_such_sector" },
        ]),
    });
    const result = expectData(pushed, 207, "POST /sync/members with a refused record");
    check(result.applied && result.created === 2 && result.errors === 1, `batch counts: ${show(result)}`);
    const refused = result.results[2];
    check(refused?.status === "error" && refused.index === 2, `third result: ${show(refused)}`);
    check(isProblem(refused.problem) && refused.problem.type === PROBLEM.validation, "the refusal's problem");
    check(
        (refused.problem.errors ?? []).some((error) => error.pointer === "/sector"),
        `the refusal points at ${show(refused.problem.errors)}, not /sector (relative to the record)`,
    );

    // The same record again is unchanged; a key with "deleted": true deletes.
    const again = await api.POST("/api/v1/sync/members", {
        params: { query: { district_id: districtId } },
        body: batchOf([member(kept, "同步委员甲"), { member_no: deleted, deleted: true }]),
    });
    const second = expectData(again, 200, "POST /sync/members again");
    const statuses = second.results.map((record) => record.status);
    check(statuses.join() === "unchanged,deleted", `second batch: ${show(statuses)}`);

    world.syncedKept = kept;
    world.syncedDeleted = deleted;
}

async function followChangeFeed(): Promise<void> {
    const districtId = need("districtId");
    const latest = new Map<string, ChangeEntry>();
    let after: string | undefined;
    const patchedId = need("member").id;
    // Six members created one by one and two pushed by the batch (one since deleted).
    const expectedRecords = 8;
    const done = () => latest.get(patchedId)?.version === need("patchedVersion") && latest.size >= expectedRecords;
    // Commits reach the feed once every older transaction of the server has ended, so a
    // reader that has everything so far asks again a little later, from its stored cursor.
    const deadline = Date.now() + 15_000;
    for (let pages = 0; !done(); pages++) {
        check(Date.now() < deadline, `the feed did not bring every change within 15 s (${latest.size} records)`);
        const page = expectData(
            await api.GET("/api/v1/changes", {
                params: {
                    query: { district_id: districtId, collections: ["members"], limit: 3, after },
                },
            }),
            200,
            `GET /changes page ${pages + 1}`,
        );
        for (const entry of page.items) {
            check(entry.collection === "members", `collections=members brought ${entry.collection}`);
            latest.set(entry.id, entry);
        }
        after = page.next_cursor;
        if (!page.has_more && !done()) await sleep(200);
    }

    check(latest.size === expectedRecords, `${latest.size} members in the feed, expected ${expectedRecords}`);
    const byNumber = new Map<string, ChangeEntry>();
    for (const entry of latest.values()) {
        if (entry.op === "delete") {
            check(entry.record === null || entry.record === undefined, "a deletion carries a record");
            continue;
        }
        // `collection` tells the entries apart: a members entry's record is a Member.
        if (entry.collection !== "members") throw new Unexpected(`a ${entry.collection} entry`);
        const record = entry.record;
        if (record === null) throw new Unexpected(`an upsert without its record: ${entry.id}`);
        check(record.version === entry.version, `entry version ${entry.version}, record ${record.version}`);
        byNumber.set(record.member_no, entry);
    }
    const patched = latest.get(patchedId);
    check(patched?.op === "upsert" && patched.version === need("patchedVersion"), "the patched member's latest state");
    check(byNumber.has(need("syncedKept")), "the synced member is not in the feed");
    check(!byNumber.has(need("syncedDeleted")), "the deleted synced member is in the feed as a record");
    const deletions = [...latest.values()].filter((entry) => entry.op === "delete");
    check(deletions.length === 1, `${deletions.length} deletions in the feed, expected the one synced away`);
}

// ---------------------------------------------------------------------------------------

const steps: [string, () => Promise<void>][] = [
    ["controlled lists (sectors, parties, proposal categories)", readControlledLists],
    ["create a district and a department", createDistrictAndDepartment],
    ["create six members", createMembers],
    ["list members by sector, following next_cursor", pageThroughMembers],
    ["ETag, If-None-Match 304, If-Match merge patch, stale If-Match 412", conditionalReadAndWrite],
    ["proposal: create, submit, allowed_actions, wrong-state 409", proposalWorkflow],
    ["validation 422: problem+json with errors[]", validationProblem],
    ["sync batch: atomic dry run 422, 207 with a refused record, unchanged and deleted", syncBatch],
    ["change feed: every change once, in its latest state", followChangeFeed],
];

let passed = 0;
let failed = 0;
for (const [name, run] of steps) {
    const started = performance.now();
    try {
        await run();
        passed += 1;
        console.log(`ok    ${name} (${Math.round(performance.now() - started)} ms)`);
    } catch (error) {
        failed += 1;
        console.log(`FAIL  ${name}`);
        console.error(error instanceof Error ? (error.stack ?? error.message) : error);
        break;
    }
}
const skipped = steps.length - passed - failed;
console.log(`client: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exitCode = failed === 0 ? 0 : 1;
