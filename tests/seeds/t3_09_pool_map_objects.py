# Seed tutorial 003, "进程池 代码示例三".
# Changed for the test: the tutorial's curly quotes around the string
# statement below are straight quotes here (curly ones are a SyntaxError).
#encoding=utf-8

from multiprocessing import Pool

"实现思想:定义一个类,有多个实例变量;然后定义一个函数,参数为类的实例,最后对类实例的实例变量进行运算"
def f(object):
    return object.x * object.y

class A:

    def __init__(self,a,b):
        self.x =a
        self.y =b

if __name__ == '__main__':
    pool = Pool(processes = 4)      # start 4 worker processes
    params = [A(i,i) for i in range(10)]      #推导列表生成实例列表
    #print (params)  #打印实例列表
    print(pool.map(f,params))
