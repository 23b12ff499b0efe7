-- whynot: who is in which room. Leaving the room or deleting the account removes
-- the membership (ON DELETE CASCADE on both sides).
CREATE TABLE room_participants (
    room_id    bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'moderator', 'member')),
    joined_at  timestamptz NOT NULL DEFAULT now(),
    last_read_at timestamptz,
    PRIMARY KEY (room_id, user_id)
);

-- "Which rooms am I in?" (the primary key already serves "who is in this room?").
CREATE INDEX room_participants_user_id_idx ON room_participants (user_id);
