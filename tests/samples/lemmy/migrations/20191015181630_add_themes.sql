ALTER TABLE user_
    ADD COLUMN theme varchar(20) DEFAULT 'darkly' NOT NULL;

