ALTER TABLE local_user
    ADD COLUMN open_links_in_new_tab boolean DEFAULT FALSE NOT NULL;

