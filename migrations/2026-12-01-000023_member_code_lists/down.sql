DROP VIEW member_code_lists;
