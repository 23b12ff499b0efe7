ALTER TABLE local_image
    ALTER COLUMN local_user_id DROP NOT NULL;

