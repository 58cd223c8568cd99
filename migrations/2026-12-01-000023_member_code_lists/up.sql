-- The codes a member record may use, the three lists in one row: a member's write reads
-- them with one statement instead of three.
CREATE VIEW member_code_lists AS
SELECT ARRAY(SELECT code FROM sectors) AS sectors,
       ARRAY(SELECT code FROM parties) AS parties,
       ARRAY(SELECT code FROM member_roles) AS roles;
