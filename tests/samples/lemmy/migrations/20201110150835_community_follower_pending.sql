ALTER TABLE community_follower
    ADD COLUMN pending boolean DEFAULT FALSE;

