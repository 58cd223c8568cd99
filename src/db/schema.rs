// @generated automatically by Diesel CLI.
//
// The change-feed stamps (`change_txid`, `change_seq`, set by a trigger on the records the
// feed carries) are left out of every table: only `src/db/changes.rs` reads them, in SQL.

diesel::table! {
    account_identities (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        account_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    accounts (id) {
        id -> Uuid,
        district_id -> Nullable<Uuid>,
        display_name -> Text,
        role -> Text,
        member_id -> Nullable<Uuid>,
        department_id -> Nullable<Uuid>,
        leader_title -> Nullable<Text>,
        status -> Text,
        external_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    activities (id) {
        id -> Uuid,
        district_id -> Uuid,
        workstation_id -> Uuid,
        kind -> Text,
        title -> Text,
        held_on -> Date,
        participant_ids -> Array<Uuid>,
        people_reached -> Int4,
        opinions_collected -> Int4,
        summary -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        role -> Text,
        district_id -> Nullable<Uuid>,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        account_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    audit_checkpoints (number) {
        number -> Int8,
        seq -> Int8,
        hash -> Text,
        signed_at -> Timestamptz,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    audit_signing_keys (key_id) {
        key_id -> Text,
        public_key -> Bytea,
        registered_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> Int8,
        occurred_at -> Timestamptz,
        actor_key_id -> Nullable<Uuid>,
        actor_role -> Nullable<Text>,
        actor_district_id -> Nullable<Uuid>,
        request_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        district_id -> Nullable<Uuid>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        prev_hash -> Text,
        hash -> Text,
        form -> Int2,
        actor_account -> Nullable<Jsonb>,
    }
}

diesel::table! {
    audit_pending (id) {
        id -> Int8,
        occurred_at -> Nullable<Timestamptz>,
        actor_key_id -> Nullable<Uuid>,
        actor_role -> Nullable<Text>,
        actor_district_id -> Nullable<Uuid>,
        request_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        actions -> Nullable<Array<Text>>,
        entity_types -> Nullable<Array<Text>>,
        entity_ids -> Nullable<Array<Text>>,
        district_ids -> Nullable<Array<Nullable<Uuid>>>,
        befores -> Nullable<Array<Nullable<Jsonb>>>,
        afters -> Nullable<Array<Nullable<Jsonb>>>,
        prefixes -> Array<Text>,
        form -> Int2,
        openings -> Nullable<Array<Nullable<Jsonb>>>,
    }
}

diesel::table! {
    audit_openings (seq, field) {
        seq -> Int8,
        field -> Text,
        value -> Nullable<Text>,
        salt -> Nullable<Text>,
        erased_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    consultation_activities (id) {
        id -> Uuid,
        district_id -> Uuid,
        consultation_id -> Uuid,
        format -> Text,
        held_on -> Date,
        place -> Nullable<Text>,
        participant_ids -> Array<Uuid>,
        department_ids -> Array<Uuid>,
        opinions_gathered -> Int4,
        summary -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    consultations (id) {
        id -> Uuid,
        district_id -> Uuid,
        year -> Int4,
        title -> Text,
        is_key -> Bool,
        lead_committee -> Nullable<Text>,
        status -> Text,
        report_title -> Nullable<Text>,
        report_text -> Nullable<Text>,
        report_recipients -> Array<Text>,
        reported_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    departments (id) {
        id -> Uuid,
        district_id -> Uuid,
        name -> Text,
        short_name -> Nullable<Text>,
        kind -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    districts (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        name_en -> Nullable<Text>,
        term -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    evaluation_evaluators (evaluation_id, member_id) {
        evaluation_id -> Uuid,
        member_id -> Uuid,
        district_id -> Uuid,
        training_completed_at -> Nullable<Timestamptz>,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    evaluation_ratings (evaluation_id, member_id, criterion) {
        evaluation_id -> Uuid,
        member_id -> Uuid,
        criterion -> Text,
        district_id -> Uuid,
        rating -> Text,
        comment -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    evaluation_visits (id) {
        id -> Uuid,
        district_id -> Uuid,
        evaluation_id -> Uuid,
        visited_on -> Date,
        place -> Text,
        visited -> Text,
        findings -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    evaluations (id) {
        id -> Uuid,
        district_id -> Uuid,
        department_id -> Uuid,
        year -> Int4,
        phase -> Text,
        report_text -> Nullable<Text>,
        reported_at -> Nullable<Timestamptz>,
        score -> Nullable<Float8>,
        grade -> Nullable<Text>,
        concluded_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotency_keys (api_key_id, key) {
        api_key_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        status -> Int2,
        headers -> Jsonb,
        body -> Bytea,
        created_at -> Timestamptz,
        request_bytes -> Nullable<Int8>,
    }
}

diesel::table! {
    key_task_notes (id) {
        id -> Uuid,
        district_id -> Uuid,
        key_task_id -> Uuid,
        noted_on -> Date,
        text -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    key_tasks (id) {
        id -> Uuid,
        district_id -> Uuid,
        year -> Int4,
        title -> Text,
        responsible_body -> Text,
        status -> Text,
        description -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    meeting_attendance (meeting_id, member_id) {
        meeting_id -> Uuid,
        member_id -> Uuid,
        district_id -> Uuid,
        status -> Text,
        note -> Nullable<Text>,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    meetings (id) {
        id -> Uuid,
        district_id -> Uuid,
        kind -> Text,
        title -> Text,
        held_on -> Date,
        place -> Nullable<Text>,
        agenda -> Nullable<Text>,
        external_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    member_roles (code) {
        code -> Text,
        name_zh -> Text,
        name_en -> Text,
        sort_order -> Int4,
    }
}

diesel::table! {
    members (id) {
        id -> Uuid,
        district_id -> Uuid,
        member_no -> Text,
        name -> Text,
        gender -> Nullable<Text>,
        sector -> Text,
        party -> Text,
        employer_title -> Nullable<Text>,
        street -> Nullable<Text>,
        term -> Int4,
        roles -> Array<Text>,
        resides_in_district -> Bool,
        status -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    parties (code) {
        code -> Text,
        name_zh -> Text,
        name_en -> Text,
        sort_order -> Int4,
    }
}

diesel::table! {
    proposal_categories (code) {
        code -> Text,
        name_zh -> Text,
        name_en -> Text,
        sort_order -> Int4,
    }
}

diesel::table! {
    proposal_cosigners (proposal_id, member_id) {
        proposal_id -> Uuid,
        member_id -> Uuid,
        district_id -> Uuid,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    proposal_number_counters (district_id, year) {
        district_id -> Uuid,
        year -> Int4,
        last -> Int4,
    }
}

// `search_terms`, a generated column, is left out: it is only read in SQL filters.
diesel::table! {
    proposals (id) {
        id -> Uuid,
        district_id -> Uuid,
        kind -> Text,
        title -> Text,
        body -> Text,
        category -> Text,
        lead_member_id -> Nullable<Uuid>,
        proposer_org -> Nullable<Text>,
        is_key -> Bool,
        supervising_leader -> Nullable<Text>,
        lead_unit_id -> Nullable<Uuid>,
        co_unit_ids -> Array<Uuid>,
        number -> Nullable<Text>,
        status -> Text,
        submitted_at -> Nullable<Timestamptz>,
        filed_at -> Nullable<Timestamptz>,
        reply_due_on -> Nullable<Date>,
        extended -> Bool,
        rehandled -> Bool,
        reply_text -> Nullable<Text>,
        reply_document_no -> Nullable<Text>,
        reply_result -> Nullable<Text>,
        replied_on -> Nullable<Date>,
        verdict -> Nullable<Text>,
        reject_reason -> Nullable<Text>,
        forward_as -> Nullable<Text>,
        merged_into_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    rectification_items (id) {
        id -> Uuid,
        district_id -> Uuid,
        evaluation_id -> Uuid,
        position -> Int4,
        description -> Text,
        due_on -> Date,
        status -> Text,
        carry_over_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    rectification_notes (id) {
        id -> Uuid,
        district_id -> Uuid,
        item_id -> Uuid,
        noted_on -> Date,
        text -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    reports (id) {
        id -> Uuid,
        district_id -> Uuid,
        kind -> Text,
        reported_on -> Date,
        subject -> Text,
        summary -> Nullable<Text>,
        consultation_id -> Nullable<Uuid>,
        evaluation_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ruling_measures (id) {
        id -> Uuid,
        district_id -> Uuid,
        ruling_id -> Uuid,
        department_id -> Uuid,
        text -> Text,
        taken_on -> Date,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    rulings (id) {
        id -> Uuid,
        district_id -> Uuid,
        leader_name -> Text,
        leader_title -> Text,
        subject_type -> Text,
        consultation_id -> Nullable<Uuid>,
        proposal_id -> Nullable<Uuid>,
        stage -> Nullable<Text>,
        content -> Text,
        issued_on -> Date,
        department_ids -> Array<Uuid>,
        status -> Text,
        feedback_text -> Nullable<Text>,
        fed_back_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
        evaluation_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    scoring_rules (version) {
        version -> Int4,
        district_id -> Nullable<Uuid>,
        from_year -> Int4,
        points -> Jsonb,
        penalties -> Jsonb,
        competent_line -> Int4,
        excellent_line -> Int4,
        note -> Nullable<Text>,
        published_at -> Timestamptz,
        published_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    sectors (code) {
        code -> Text,
        name_zh -> Text,
        name_en -> Text,
        sort_order -> Int4,
    }
}

diesel::table! {
    workflow_steps (id) {
        id -> Uuid,
        entity_type -> Text,
        entity_id -> Uuid,
        action -> Text,
        from_status -> Text,
        to_status -> Text,
        actor_key_id -> Nullable<Uuid>,
        actor_role -> Nullable<Text>,
        occurred_at -> Timestamptz,
        payload -> Jsonb,
        actor_account -> Nullable<Jsonb>,
    }
}

diesel::table! {
    workstation_members (workstation_id, member_id) {
        workstation_id -> Uuid,
        member_id -> Uuid,
        district_id -> Uuid,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    workstations (id) {
        id -> Uuid,
        district_id -> Uuid,
        name -> Text,
        kind -> Text,
        street -> Nullable<Text>,
        address -> Nullable<Text>,
        opened_on -> Nullable<Date>,
        convenor_member_id -> Nullable<Uuid>,
        description -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
        deleted_at -> Nullable<Timestamptz>,
        external_id -> Nullable<Text>,
    }
}

diesel::joinable!(activities -> districts (district_id));
diesel::joinable!(account_identities -> accounts (account_id));
diesel::joinable!(accounts -> departments (department_id));
diesel::joinable!(accounts -> districts (district_id));
diesel::joinable!(accounts -> members (member_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(api_keys -> districts (district_id));
diesel::joinable!(audit_checkpoints -> audit_signing_keys (key_id));
diesel::joinable!(consultation_activities -> consultations (consultation_id));
diesel::joinable!(consultation_activities -> districts (district_id));
diesel::joinable!(consultations -> districts (district_id));
diesel::joinable!(activities -> workstations (workstation_id));
diesel::joinable!(departments -> districts (district_id));
diesel::joinable!(evaluation_evaluators -> evaluations (evaluation_id));
diesel::joinable!(evaluation_evaluators -> members (member_id));
diesel::joinable!(evaluation_visits -> evaluations (evaluation_id));
diesel::joinable!(evaluations -> departments (department_id));
diesel::joinable!(evaluations -> districts (district_id));
diesel::joinable!(key_task_notes -> key_tasks (key_task_id));
diesel::joinable!(key_tasks -> districts (district_id));
diesel::joinable!(meeting_attendance -> meetings (meeting_id));
diesel::joinable!(meeting_attendance -> members (member_id));
diesel::joinable!(meetings -> districts (district_id));
diesel::joinable!(members -> districts (district_id));
diesel::joinable!(members -> parties (party));
diesel::joinable!(members -> sectors (sector));
diesel::joinable!(proposal_cosigners -> members (member_id));
diesel::joinable!(proposal_cosigners -> proposals (proposal_id));
diesel::joinable!(proposals -> districts (district_id));
diesel::joinable!(proposals -> proposal_categories (category));
diesel::joinable!(rectification_items -> evaluations (evaluation_id));
diesel::joinable!(rectification_notes -> rectification_items (item_id));
diesel::joinable!(reports -> consultations (consultation_id));
diesel::joinable!(reports -> districts (district_id));
diesel::joinable!(reports -> evaluations (evaluation_id));
diesel::joinable!(ruling_measures -> departments (department_id));
diesel::joinable!(ruling_measures -> rulings (ruling_id));
diesel::joinable!(rulings -> consultations (consultation_id));
diesel::joinable!(rulings -> districts (district_id));
diesel::joinable!(rulings -> evaluations (evaluation_id));
diesel::joinable!(rulings -> proposals (proposal_id));
diesel::joinable!(workstation_members -> districts (district_id));
diesel::joinable!(workstation_members -> members (member_id));
diesel::joinable!(workstation_members -> workstations (workstation_id));
diesel::joinable!(workstations -> districts (district_id));
diesel::joinable!(workstations -> members (convenor_member_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_identities,
    accounts,
    activities,
    api_keys,
    audit_checkpoints,
    audit_events,
    audit_openings,
    audit_pending,
    audit_signing_keys,
    consultation_activities,
    consultations,
    departments,
    districts,
    evaluation_evaluators,
    evaluation_ratings,
    evaluation_visits,
    evaluations,
    idempotency_keys,
    key_task_notes,
    key_tasks,
    meeting_attendance,
    meetings,
    member_roles,
    members,
    parties,
    proposal_categories,
    proposal_cosigners,
    proposal_number_counters,
    proposals,
    rectification_items,
    rectification_notes,
    reports,
    ruling_measures,
    rulings,
    scoring_rules,
    sectors,
    workflow_steps,
    workstation_members,
    workstations,
);
