DELETE FROM user_
WHERE name LIKE 'admin';

