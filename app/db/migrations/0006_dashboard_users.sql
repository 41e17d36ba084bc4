-- Dashboard users (docs/dashboard.md#sign-in): people who sign in to look at a workspace's calls.
-- API tokens stay for machines; these are for browsers.
CREATE TABLE users (
    id               bigserial PRIMARY KEY,
    workspace_id     bigint NOT NULL REFERENCES workspaces(id),
    email            text NOT NULL,
    password_hash    text,               -- NULL until an invited user sets a password
    is_admin         boolean NOT NULL DEFAULT false,
    -- lock-out: consecutive failed sign-ins, and until when sign-in is refused
    failed_signins   integer NOT NULL DEFAULT 0,
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- one account per address across workspaces: the sign-in form asks for no workspace
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Server-side sessions: the cookie holds a random token, the table only its SHA-256, so a
-- database dump signs nobody in, and sign-out or a password reset ends a session for good.
CREATE TABLE user_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

-- One-time links that let an invited user (or one whose password an admin reset) choose a password.
CREATE TABLE user_invites (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

-- the calls list's free-text search over identifiers (metadata is searched as text)
CREATE INDEX calls_agent_time ON calls (workspace_id, agent_id, call_timestamp);
