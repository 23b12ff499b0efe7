ALTER TABLE password_reset_request RENAME COLUMN token_encrypted TO token;

